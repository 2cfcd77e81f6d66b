//! `--format`: Go templates (`{{.ID}}`, `{{json .}}`, `table ...`) and
//! `json`, rendered the way Docker renders them, and tables aligned like
//! Docker's tabwriter (min width 10, padding 3).

use anyhow::{anyhow, Result};
use gtmpl::{Context, Func, FuncError, Template, Value};
use serde_json::Value as Json;
use std::collections::HashMap;

/// What `--format` asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// The command's default table, or `table` alone.
    DefaultTable,
    /// `table {{...}}`: a custom table with a header row.
    Table(String),
    /// `json`: one JSON object per line.
    Json,
    /// A bare template, one rendering per item, no header.
    Template(String),
}

impl Format {
    pub fn parse(s: Option<&str>) -> Format {
        match s.map(str::trim) {
            None | Some("") | Some("table") => Format::DefaultTable,
            Some("json") => Format::Json,
            Some(t) if t.starts_with("table ") => Format::Table(unescape(&t[6..])),
            Some(t) => Format::Template(unescape(t)),
        }
    }
}

/// Docker lets users type `\t` and `\n` literally in `--format`.
fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

/// Render rows with a template. `headers` maps each field to its column
/// title, used for the header line of a `table` format.
pub fn render_rows(
    format: &Format,
    default_table: &str,
    headers: &[(&str, &str)],
    rows: &[Json],
) -> Result<String> {
    let (tmpl, table) = match format {
        Format::DefaultTable => (default_table.to_string(), true),
        Format::Table(t) => (t.clone(), true),
        Format::Template(t) => (t.clone(), false),
        Format::Json => {
            let mut out = String::new();
            for r in rows {
                out.push_str(&serde_json::to_string(r)?);
                out.push('\n');
            }
            return Ok(out);
        }
    };
    let mut out = String::new();
    let compiled = Compiled::new(&tmpl)?;
    if table {
        let hdr: serde_json::Map<String, Json> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), Json::String(v.to_string())))
            .collect();
        out.push_str(&compiled.render(&Json::Object(hdr))?);
        out.push('\n');
    }
    for r in rows {
        out.push_str(&compiled.render(r)?);
        out.push('\n');
    }
    Ok(if table { tabwriter(&out) } else { out })
}

/// Write a command's output to stdout; a reader that went away (`| head`)
/// ends the output quietly, as it does for Docker.
pub fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!("write the output: {e}"))
        }
        _ => Ok(()),
    }
}

/// Render one template over one value.
pub fn render(tmpl: &str, value: &Json) -> Result<String> {
    Compiled::new(tmpl)?.render(value)
}

/// A template parsed once, for rendering over many values (parsing is
/// the costly part: the engine's lexer runs on a thread of its own).
pub struct Compiled(Template);

impl Compiled {
    pub fn new(tmpl: &str) -> Result<Compiled> {
        let mut t = Template::default();
        t.add_funcs(&FUNCS);
        t.parse(tmpl)
            .map_err(|e| anyhow!("template parsing error: {e}"))?;
        Ok(Compiled(t))
    }

    pub fn render(&self, value: &Json) -> Result<String> {
        self.0
            .render(&Context::from(to_value(value)))
            .map_err(|e| anyhow!("template: {e}"))
    }
}

const FUNCS: [(&str, Func); 9] = [
    ("json", json as Func),
    ("join", join as Func),
    ("upper", upper as Func),
    ("lower", lower as Func),
    ("title", title as Func),
    ("split", split as Func),
    ("truncate", truncate as Func),
    ("pad", pad as Func),
    ("table", identity as Func),
];

fn arg_str(args: &[Value], i: usize) -> Result<String, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Ok(v.to_string()),
        None => Err(FuncError::AtLeastXArgs("function".into(), i + 1)),
    }
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    let v = args
        .first()
        .ok_or_else(|| FuncError::AtLeastXArgs("json".into(), 1))?;
    Ok(Value::String(from_value(v).to_string()))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = arg_str(args, 1)?;
    match args.first() {
        Some(Value::Array(a)) => Ok(Value::String(
            a.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect::<Vec<_>>()
                .join(&sep),
        )),
        Some(Value::Nil) | Some(Value::NoValue) => Ok(Value::String(String::new())),
        Some(v) => Ok(Value::String(v.to_string())),
        None => Err(FuncError::AtLeastXArgs("join".into(), 2)),
    }
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(arg_str(args, 0)?.to_uppercase()))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(arg_str(args, 0)?.to_lowercase()))
}

fn title(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str(args, 0)?;
    let mut c = s.chars();
    Ok(Value::String(match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }))
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str(args, 0)?;
    let sep = arg_str(args, 1)?;
    Ok(Value::Array(
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect(),
    ))
}

fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str(args, 0)?;
    let n: usize = arg_str(args, 1)?.parse().unwrap_or(usize::MAX);
    Ok(Value::String(s.chars().take(n).collect()))
}

fn pad(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str(args, 0)?;
    let l: usize = arg_str(args, 1)?.parse().unwrap_or(0);
    let r: usize = arg_str(args, 2)?.parse().unwrap_or(0);
    Ok(Value::String(format!(
        "{}{}{}",
        " ".repeat(l),
        s,
        " ".repeat(r)
    )))
}

fn identity(args: &[Value]) -> Result<Value, FuncError> {
    Ok(args.first().cloned().unwrap_or(Value::Nil))
}

/// JSON -> template value. Numbers stay numbers so `{{.Size}}` prints 123,
/// not 123.0.
pub fn to_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        Json::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// Template value -> JSON, for `{{json .}}`.
fn from_value(v: &Value) -> Json {
    match v {
        Value::Nil | Value::NoValue => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64().map(Json::from).unwrap_or(Json::Null)
            }
        }
        Value::Array(a) => Json::Array(a.iter().map(from_value).collect()),
        Value::Object(o) | Value::Map(o) => {
            let mut keys: Vec<_> = o.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), from_value(&o[k])))
                    .collect(),
            )
        }
        Value::Function(_) => Json::Null,
    }
}

/// Align tab-separated cells like Go's tabwriter with Docker's settings
/// (minwidth 10, padding 3); the last cell of a line is not padded.
pub fn tabwriter(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for l in &lines {
        for (i, c) in l.iter().enumerate().take(l.len().saturating_sub(1)) {
            let w = c.chars().count();
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(w);
        }
    }
    let mut out = String::new();
    for l in &lines {
        for (i, c) in l.iter().enumerate() {
            out.push_str(c);
            if i + 1 < l.len() {
                let col = (widths[i] + 3).max(10);
                out.push_str(&" ".repeat(col - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_render() {
        let v = json!({"Client": {"Version": "1.2.3"}, "Tags": ["a", "b"], "Size": 42});
        assert_eq!(render("{{.Client.Version}}", &v).unwrap(), "1.2.3");
        assert_eq!(render("{{join .Tags \",\"}}", &v).unwrap(), "a,b");
        assert_eq!(render("{{.Size}}", &v).unwrap(), "42");
        assert_eq!(render("{{json .Tags}}", &v).unwrap(), "[\"a\",\"b\"]");
        assert!(render("{{.Client.Version", &v).is_err());
    }

    #[test]
    fn tables_align() {
        let rows = vec![
            json!({"A": "x", "B": "yy"}),
            json!({"A": "longer-value", "B": "z"}),
        ];
        let out = render_rows(
            &Format::DefaultTable,
            "{{.A}}\t{{.B}}",
            &[("A", "COL A"), ("B", "COL B")],
            &rows,
        )
        .unwrap();
        assert_eq!(
            out,
            "COL A          COL B\nx              yy\nlonger-value   z\n"
        );
        assert_eq!(Format::parse(Some("json")), Format::Json);
        assert_eq!(
            Format::parse(Some("table {{.A}}\\t{{.B}}")),
            Format::Table("{{.A}}\t{{.B}}".into())
        );
    }
}
