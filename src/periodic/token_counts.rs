//! The token counts of the `SimpleStats` module, as privacyIDEA's `get_tokens(count=True, …)`
//! counts them: over the token query with its node-specific realm filter (`all_nodes=False`),
//! which leaves out tokens whose owner's resolver is configured only for other nodes, or
//! whose owner's realm has no resolver for this node. Like privacyIDEA's
//! `count(*)` over the joined query, a token with several owners counts once per owner.
//! `user_with_token` is `get_users_with_active_tokens`: the distinct (resolver, user id)
//! pairs owning an active token.

use crate::db::{Connection, DbResult, Value};

/// One of SimpleStats' token counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCount {
    Total,
    /// `tokeninfo` `tokenkind` = `hardware`.
    Hardware,
    /// `tokeninfo` `tokenkind` = `software`.
    Software,
    /// Hardware tokens without an owner.
    UnassignedHardware,
    /// Tokens with an owner.
    Assigned,
}

/// The resolvers this node may use and the realms it must leave out (privacyIDEA's
/// `get_realms()` walk in `_create_token_query`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRealms {
    /// Resolvers in some realm for all nodes or for this node.
    pub resolvers: Vec<String>,
    /// Lower-cased names of realms without a resolver for this node.
    pub excluded_realms: Vec<String>,
}

/// Read the realm configuration for the node with UUID `node_uuid`.
pub fn node_realms(conn: &mut dyn Connection, node_uuid: Option<&str>) -> DbResult<NodeRealms> {
    let d = conn.dialect();
    let q = |c: &str| d.quote(c);
    let has_node_column = conn
        .table_columns("resolverrealm")?
        .iter()
        .any(|c| c == "node_uuid");
    let node_col = if has_node_column {
        format!("rr.{}", q("node_uuid"))
    } else {
        "NULL".to_string()
    };
    let rows = conn.query_rows(
        &format!(
            "SELECT r.{name}, res.{name}, {node_col} FROM {realm} r \
             LEFT JOIN {rr} rr ON rr.{realm_id} = r.{id} \
             LEFT JOIN {resolver} res ON res.{id} = rr.{resolver_id} \
             ORDER BY r.{id}, rr.{id}",
            name = q("name"),
            realm = q("realm"),
            rr = q("resolverrealm"),
            realm_id = q("realm_id"),
            id = q("id"),
            resolver = q("resolver"),
            resolver_id = q("resolver_id"),
        ),
        &[],
    )?;
    let mut out = NodeRealms::default();
    let mut realms: Vec<(String, bool)> = Vec::new();
    for r in rows {
        let realm = r.get(0).as_str().unwrap_or_default().to_string();
        if !realms.iter().any(|(n, _)| *n == realm) {
            realms.push((realm.clone(), false));
        }
        let resolver = r.get(1).as_str().unwrap_or_default();
        if resolver.is_empty() {
            continue;
        }
        let node = r.get(2).as_str().unwrap_or_default();
        if node.is_empty() || Some(node) == node_uuid {
            out.resolvers.push(resolver.to_string());
            if let Some(entry) = realms.iter_mut().find(|(n, _)| *n == realm) {
                entry.1 = true;
            }
        }
    }
    out.excluded_realms = realms
        .into_iter()
        .filter(|(_, added)| !added)
        .map(|(n, _)| n.to_lowercase())
        .collect();
    Ok(out)
}

/// `IN (…)` with placeholders, or SQLAlchemy's rendering of an empty list (never true).
fn in_list(column: &str, values: &[String], params: &mut Vec<Value>) -> String {
    if values.is_empty() {
        return "1 <> 1".into();
    }
    params.extend(values.iter().map(|v| Value::Text(v.clone())));
    format!("{column} IN ({})", vec!["?"; values.len()].join(", "))
}

/// Count tokens as `get_tokens(count=True, …)` does for `which`.
pub fn count_tokens(
    conn: &mut dyn Connection,
    realms: &NodeRealms,
    which: TokenCount,
) -> DbResult<i64> {
    let d = conn.dialect();
    let q = |c: &str| d.quote(c);
    let mut params = Vec::new();
    let mut sql = format!(
        "SELECT count(*) FROM {token} t \
         LEFT JOIN {owner} o ON t.{id} = o.{token_id} \
         LEFT JOIN {realm} r ON o.{realm_id} = r.{id}",
        token = q("token"),
        owner = q("tokenowner"),
        realm = q("realm"),
        id = q("id"),
        token_id = q("token_id"),
        realm_id = q("realm_id"),
    );
    let kind = match which {
        TokenCount::Hardware | TokenCount::UnassignedHardware => Some("hardware"),
        TokenCount::Software => Some("software"),
        _ => None,
    };
    if let Some(kind) = kind {
        sql.push_str(&format!(
            " JOIN {info} i ON i.{token_id} = t.{id} AND i.{key} = ? AND i.{value} = ?",
            info = q("tokeninfo"),
            token_id = q("token_id"),
            id = q("id"),
            key = q("Key"),
            value = q("Value"),
        ));
        params.push(Value::Text("tokenkind".into()));
        params.push(Value::Text(kind.into()));
    }
    let mut conditions = Vec::new();
    match which {
        TokenCount::Assigned => conditions.push(format!("o.{} IS NOT NULL", q("id"))),
        TokenCount::UnassignedHardware => conditions.push(format!("o.{} IS NULL", q("id"))),
        _ => {}
    }
    let resolver_in = in_list(
        &format!("o.{}", q("resolver")),
        &realms.resolvers,
        &mut params,
    );
    conditions.push(format!("(o.{} IS NULL OR {resolver_in})", q("id")));
    let excluded = if realms.excluded_realms.is_empty() {
        // SQLAlchemy renders `NOT IN ()` as always true.
        "1 = 1".to_string()
    } else {
        params.extend(
            realms
                .excluded_realms
                .iter()
                .map(|v| Value::Text(v.clone())),
        );
        format!(
            "lower(r.{}) NOT IN ({})",
            q("name"),
            vec!["?"; realms.excluded_realms.len()].join(", ")
        )
    };
    conditions.push(format!(
        "(o.{realm_id} IS NULL OR ({excluded} AND o.{realm_id} = r.{id} AND o.{token_id} = t.{id}))",
        realm_id = q("realm_id"),
        id = q("id"),
        token_id = q("token_id"),
    ));
    sql.push_str(" WHERE ");
    sql.push_str(&conditions.join(" AND "));
    Ok(conn.query_i64(&sql, &params)?.unwrap_or(0))
}

/// `get_users_with_active_tokens`: distinct (resolver, user id) owning an active token.
pub fn users_with_active_tokens(conn: &mut dyn Connection) -> DbResult<i64> {
    let d = conn.dialect();
    let q = |c: &str| d.quote(c);
    let sql = format!(
        "SELECT count(*) FROM (SELECT DISTINCT o.{resolver}, o.{user_id} FROM {owner} o \
         JOIN {token} t ON t.{id} = o.{token_id} WHERE t.{active} = ?) u",
        resolver = q("resolver"),
        user_id = q("user_id"),
        owner = q("tokenowner"),
        token = q("token"),
        id = q("id"),
        token_id = q("token_id"),
        active = q("active"),
    );
    Ok(conn.query_i64(&sql, &[Value::Bool(true)])?.unwrap_or(0))
}
