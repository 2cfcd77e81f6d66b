//! (context and COPY: being written)
