//! Whole, realistic Containerfiles, end to end.

use super::tests::ok;
use crate::build::ast::{Command, Health, Kind, MountType, Run, Stage};

/// Each instruction's name and line, to see a file's shape at a glance.
fn outline(stage: &Stage) -> Vec<(usize, &'static str)> {
    stage
        .instructions
        .iter()
        .map(|i| {
            let name = match &i.kind {
                Kind::Run(_) => "RUN",
                Kind::Copy(_) => "COPY",
                Kind::Add(_) => "ADD",
                Kind::Env(_) => "ENV",
                Kind::Arg(_) => "ARG",
                Kind::Workdir(_) => "WORKDIR",
                Kind::User(_) => "USER",
                Kind::Cmd(_) => "CMD",
                Kind::Entrypoint(_) => "ENTRYPOINT",
                Kind::Expose(_) => "EXPOSE",
                Kind::Label(_) => "LABEL",
                Kind::Volume(_) => "VOLUME",
                Kind::Shell(_) => "SHELL",
                Kind::StopSignal(_) => "STOPSIGNAL",
                Kind::Healthcheck(_) => "HEALTHCHECK",
                Kind::Onbuild(_) => "ONBUILD",
                Kind::Maintainer(_) => "MAINTAINER",
            };
            (i.line, name)
        })
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

const GO_SERVICE: &str = r#"# syntax=docker/dockerfile:1.7
ARG GO_VERSION=1.22
ARG ALPINE_VERSION=3.19

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -o /out/app ./cmd/app

FROM alpine:${ALPINE_VERSION} AS runtime
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S app && adduser -S app -G app
COPY --from=build --chown=app:app /out/app /usr/local/bin/app
USER app
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["/usr/local/bin/app", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["serve"]
"#;

#[test]
fn go_service() {
    let parsed = ok(GO_SERVICE);
    assert_eq!(parsed.syntax.as_deref(), Some("docker/dockerfile:1.7"));
    let globals: Vec<_> = parsed.global_args.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(globals, ["GO_VERSION", "ALPINE_VERSION"]);
    let [build, runtime] = parsed.stages.as_slice() else {
        panic!("{parsed:#?}")
    };
    assert_eq!(build.name.as_deref(), Some("build"));
    assert_eq!(build.base, "golang:${GO_VERSION}-alpine");
    assert_eq!(build.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(build.line, 5);
    assert_eq!(
        outline(build),
        [
            (6, "WORKDIR"),
            (7, "ENV"),
            (8, "COPY"),
            (9, "RUN"),
            (11, "COPY"),
            (12, "ARG"),
            (13, "RUN")
        ]
    );
    let Kind::Run(compile) = &build.instructions[6].kind else {
        panic!()
    };
    assert_eq!(compile.mounts.len(), 2);
    assert_eq!(
        compile.mounts[1].target.as_deref(),
        Some("/root/.cache/go-build")
    );
    assert_eq!(
        compile.command,
        Command::Shell(
            "GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -o /out/app ./cmd/app".into()
        )
    );
    assert_eq!(runtime.index, 1);
    assert_eq!(runtime.base, "alpine:${ALPINE_VERSION}");
    assert_eq!(
        outline(runtime),
        [
            (18, "RUN"),
            (20, "COPY"),
            (21, "USER"),
            (22, "EXPOSE"),
            (23, "HEALTHCHECK"),
            (24, "ENTRYPOINT"),
            (25, "CMD")
        ]
    );
    let Kind::Copy(copy) = &runtime.instructions[1].kind else {
        panic!()
    };
    assert_eq!(copy.from.as_deref(), Some("build"));
    assert_eq!(copy.chown.as_deref(), Some("app:app"));
    let Kind::Healthcheck(Health::Check {
        command, interval, ..
    }) = &runtime.instructions[4].kind
    else {
        panic!()
    };
    assert_eq!(
        *command,
        Command::Exec(s(&["/usr/local/bin/app", "healthcheck"]))
    );
    assert_eq!(interval.as_deref(), Some("30s"));
}

const NODE_APP: &str = r#"FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

FROM node:20-slim
LABEL org.opencontainers.image.source="https://github.com/example/app" \
      org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
COPY <<EOF /app/config.json
{"port": $PORT}
EOF
RUN <<EOT bash
  set -euo pipefail
  chown -R node:node /app
EOT
VOLUME ["/app/data"]
USER node
STOPSIGNAL SIGTERM
CMD node server.js
"#;

#[test]
fn node_app_with_heredocs() {
    let parsed = ok(NODE_APP);
    let [deps, app] = parsed.stages.as_slice() else {
        panic!()
    };
    assert_eq!(outline(deps), [(2, "WORKDIR"), (3, "COPY"), (4, "RUN")]);
    assert_eq!(app.name, None);
    assert_eq!(
        outline(app),
        [
            (7, "LABEL"),
            (9, "ENV"),
            (11, "WORKDIR"),
            (12, "COPY"),
            (13, "COPY"),
            (14, "COPY"),
            (17, "RUN"),
            (21, "VOLUME"),
            (22, "USER"),
            (23, "STOPSIGNAL"),
            (24, "CMD")
        ]
    );
    assert_eq!(
        app.instructions[0].kind,
        Kind::Label(vec![
            (
                "org.opencontainers.image.source".into(),
                "\"https://github.com/example/app\"".into()
            ),
            ("org.opencontainers.image.licenses".into(), "\"MIT\"".into()),
        ])
    );
    let Kind::Copy(config) = &app.instructions[5].kind else {
        panic!()
    };
    assert_eq!(config.heredocs[0].content, "{\"port\": $PORT}\n");
    assert!(config.heredocs[0].expand);
    let Kind::Run(script) = &app.instructions[6].kind else {
        panic!()
    };
    assert_eq!(script.command, Command::Shell("<<EOT bash".into()));
    assert_eq!(
        script.heredocs[0].content,
        "  set -euo pipefail\n  chown -R node:node /app\n"
    );
    assert_eq!(
        app.instructions[10].kind,
        Kind::Cmd(Command::Shell("node server.js".into()))
    );
}

const PYTHON_BASE: &str = r#"FROM python:3.12-slim AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=secret,id=pip_conf,target=/etc/pip.conf \
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
    pip install --no-cache-dir -r /tmp/requirements.txt
ONBUILD COPY . /app
ONBUILD RUN python -m compileall /app

FROM base AS test
RUN --network=none pytest -q

# the published image
FROM base
MAINTAINER Example Maintainers <maint@example.com>
ADD --chmod=0644 https://example.com/ca.pem /usr/local/share/ca-certificates/
"#;

#[test]
fn python_with_secrets_and_triggers() {
    let parsed = ok(PYTHON_BASE);
    let [base, test, published] = parsed.stages.as_slice() else {
        panic!()
    };
    assert_eq!(
        outline(base),
        [(2, "SHELL"), (3, "RUN"), (6, "ONBUILD"), (7, "ONBUILD")]
    );
    let Kind::Run(install) = &base.instructions[1].kind else {
        panic!()
    };
    let kinds: Vec<_> = install.mounts.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [MountType::Secret, MountType::Bind]);
    assert_eq!(install.mounts[0].id.as_deref(), Some("pip_conf"));
    assert_eq!(
        install.mounts[1].source.as_deref(),
        Some("requirements.txt")
    );
    assert_eq!(
        base.instructions[2].kind,
        Kind::Onbuild("COPY . /app".into())
    );
    assert_eq!(test.base, "base");
    let Kind::Run(pytest) = &test.instructions[0].kind else {
        panic!()
    };
    assert_eq!(pytest.network.as_deref(), Some("none"));
    assert_eq!(published.line, 13);
    assert_eq!(outline(published), [(14, "MAINTAINER"), (15, "ADD")]);
    let Kind::Add(add) = &published.instructions[1].kind else {
        panic!()
    };
    assert_eq!(add.chmod.as_deref(), Some("0644"));
    assert_eq!(add.dest, "/usr/local/share/ca-certificates/");
}

const WINDOWS: &str = "# escape=`\r\n\
FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build\r\n\
WORKDIR C:\\src\r\n\
COPY *.csproj .\\\r\n\
RUN dotnet restore `\r\n\
\x20   --runtime win-x64\r\n\
COPY . .\r\n\
RUN dotnet publish -c Release -o C:\\out\r\n\
\r\n\
FROM mcr.microsoft.com/dotnet/aspnet:8.0\r\n\
WORKDIR C:\\app\r\n\
COPY --from=build C:\\out .\r\n\
ENTRYPOINT [\"dotnet\", \"C:\\\\app\\\\web.dll\"]\r\n";

#[test]
fn windows_file_with_backtick_escape() {
    let parsed = ok(WINDOWS);
    assert_eq!(parsed.escape, '`');
    let [build, app] = parsed.stages.as_slice() else {
        panic!()
    };
    assert_eq!(build.instructions[0].kind, Kind::Workdir("C:\\src".into()));
    let Kind::Copy(csproj) = &build.instructions[1].kind else {
        panic!()
    };
    assert_eq!(csproj.dest, ".\\");
    assert_eq!(
        build.instructions[2].kind,
        Kind::Run(Run {
            command: Command::Shell("dotnet restore     --runtime win-x64".into()),
            heredocs: vec![],
            mounts: vec![],
            network: None,
            security: None,
        })
    );
    assert_eq!(build.instructions[4].line, 8);
    assert_eq!(app.line, 10);
    let Kind::Copy(out) = &app.instructions[1].kind else {
        panic!()
    };
    assert_eq!(out.sources, s(&["C:\\out"]));
    assert_eq!(
        app.instructions[2].kind,
        Kind::Entrypoint(Command::Exec(s(&["dotnet", "C:\\app\\web.dll"])))
    );
}
