//! The SQL forms `CONSUME FROM …` and `ACK …` (protocol 5.1).

use crate::engine::Engine;
use crate::exec::{Output, StmtError};
use crate::topics::Start;

/// A parsed topic statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TopicSql {
    /// `CONSUME FROM <topic> [GROUP '<g>'] [FROM EARLIEST|LATEST|<n>] [LIMIT <n>]`
    Consume {
        topic: String,
        group: Option<String>,
        start: Start,
        limit: u64,
    },
    /// `ACK <topic> GROUP '<g>' [PARTITION <p>] UPTO OFFSET <o>`
    Ack {
        topic: String,
        group: String,
        partition: u32,
        upto: u64,
    },
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '\'' || c == '"').to_owned()
}

fn number<T: std::str::FromStr>(w: Option<&&str>, what: &str) -> Result<T, String> {
    w.and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("expected a number after {what}"))
}

/// Parses a `CONSUME` or `ACK` statement.
pub(crate) fn parse(sql: &str) -> Result<TopicSql, String> {
    let words: Vec<&str> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect();
    let up: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let kw = |i: usize| up.get(i).map_or("", String::as_str);
    if kw(0) == "CONSUME" {
        if kw(1) != "FROM" || words.len() < 3 {
            return Err("Expected: CONSUME FROM <topic>".into());
        }
        let topic = unquote(words[2]);
        let (mut group, mut start, mut limit) = (None, Start::Latest, 100);
        let mut i = 3;
        while i < words.len() {
            match kw(i) {
                "GROUP" => group = Some(unquote(words.get(i + 1).ok_or("expected a group")?)),
                "FROM" => {
                    start = match kw(i + 1) {
                        "EARLIEST" => Start::Earliest,
                        "LATEST" => Start::Latest,
                        _ => Start::Offset(number(words.get(i + 1), "FROM")?),
                    }
                }
                "LIMIT" => limit = number(words.get(i + 1), "LIMIT")?,
                other => return Err(format!("Unexpected token in CONSUME: {other}")),
            }
            i += 2;
        }
        return Ok(TopicSql::Consume {
            topic,
            group,
            start,
            limit,
        });
    }
    if kw(0) != "ACK" || words.len() < 2 {
        return Err("Expected: ACK <topic> GROUP '<group>' UPTO OFFSET <offset>".into());
    }
    let topic = unquote(words[1]);
    let (mut group, mut partition, mut upto) = (None, 0, None);
    let mut i = 2;
    while i < words.len() {
        match kw(i) {
            "GROUP" => group = Some(unquote(words.get(i + 1).ok_or("expected a group")?)),
            "PARTITION" => partition = number(words.get(i + 1), "PARTITION")?,
            "UPTO" if kw(i + 1) == "OFFSET" => {
                upto = Some(number(words.get(i + 2), "UPTO OFFSET")?);
                i += 1;
            }
            other => return Err(format!("Unexpected token in ACK: {other}")),
        }
        i += 2;
    }
    Ok(TopicSql::Ack {
        topic,
        group: group.ok_or("ACK requires GROUP '<group>'")?,
        partition,
        upto: upto.ok_or("ACK requires UPTO OFFSET <offset>")?,
    })
}

fn resolve(engine: &Engine, namespace: &str, topic: &str) -> Result<(String, String), StmtError> {
    let (ns, name) = topic
        .split_once('.')
        .map_or((namespace, topic), |(a, b)| (a, b));
    let (ns, name) = (ns.to_ascii_lowercase(), name.to_ascii_lowercase());
    if engine.store.read().catalog.topic(&ns, &name).is_none() {
        return Err(StmtError::exec(format!(
            "Topic '{ns}.{name}' does not exist"
        )));
    }
    Ok((ns, name))
}

/// A buffered row set with a plain schema (no flags).
fn rows_output(columns: &[(&str, &str)], rows: Vec<String>, user: String) -> Output {
    let schema: Vec<serde_json::Value> = columns
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| serde_json::json!({"name": name, "data_type": ty, "index": i}))
        .collect();
    Output::Rows {
        schema: serde_json::Value::Array(schema).to_string(),
        row_count: rows.len(),
        rows: rows.join(","),
        as_user: user,
        buffered: true,
    }
}

/// Runs a topic statement for `user` (role already checked).
pub(crate) fn execute(
    engine: &Engine,
    namespace: &str,
    stmt: TopicSql,
    user: String,
) -> Result<Output, StmtError> {
    match stmt {
        TopicSql::Consume {
            topic,
            group,
            start,
            limit,
        } => {
            let (ns, name) = resolve(engine, namespace, &topic)?;
            let topics = &engine.store.topics;
            let messages = match &group {
                Some(g) => {
                    let fetched = {
                        let st = engine.store.read();
                        topics.fetch(&st.catalog, (&ns, &name), g, 0, start, limit)
                    };
                    if let Some(last) = fetched.messages.last() {
                        topics.ack((&ns, &name), g, 0, last.offset);
                    }
                    fetched.messages
                }
                None => topics.read((&ns, &name), 0, start, limit),
            };
            let topic_id = format!("{ns}.{name}");
            let rows: Vec<String> = messages
                .iter()
                .map(|m| {
                    serde_json::json!([
                        topic_id,
                        0,
                        m.offset.to_string(),
                        m.key,
                        m.payload.iter().collect::<Vec<_>>(),
                        m.timestamp_ms.to_string(),
                        m.user,
                        m.op.as_str(),
                    ])
                    .to_string()
                })
                .collect();
            Ok(rows_output(
                &[
                    ("topic_id", "Text"),
                    ("partition_id", "Int"),
                    ("offset", "BigInt"),
                    ("key", "Text"),
                    ("payload", "Bytes"),
                    ("timestamp_ms", "BigInt"),
                    ("user_id", "Text"),
                    ("op", "Text"),
                ],
                rows,
                user,
            ))
        }
        TopicSql::Ack {
            topic,
            group,
            partition,
            upto,
        } => {
            let (ns, name) = resolve(engine, namespace, &topic)?;
            engine
                .store
                .topics
                .ack((&ns, &name), &group, partition, upto);
            let row =
                serde_json::json!([format!("{ns}.{name}"), group, partition, upto.to_string()]);
            Ok(rows_output(
                &[
                    ("topic", "Text"),
                    ("group_id", "Text"),
                    ("partition", "Int"),
                    ("committed_offset", "BigInt"),
                ],
                vec![row.to_string()],
                user,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        assert_eq!(
            parse("consume from app.t GROUP 'g' FROM EARLIEST LIMIT 5;").unwrap(),
            TopicSql::Consume {
                topic: "app.t".into(),
                group: Some("g".into()),
                start: Start::Earliest,
                limit: 5
            }
        );
        assert_eq!(
            parse("CONSUME FROM t FROM 3").unwrap(),
            TopicSql::Consume {
                topic: "t".into(),
                group: None,
                start: Start::Offset(3),
                limit: 100
            }
        );
        assert_eq!(
            parse("ACK app.t GROUP 'g' PARTITION 1 UPTO OFFSET 41").unwrap(),
            TopicSql::Ack {
                topic: "app.t".into(),
                group: "g".into(),
                partition: 1,
                upto: 41
            }
        );
        assert!(parse("ACK app.t UPTO OFFSET 1").is_err());
        assert!(parse("CONSUME FROM t LIMIT x").is_err());
    }
}
