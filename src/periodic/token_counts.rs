//! The token counts of the `SimpleStats` module, as privacyIDEA 3.14's `get_tokens(count=True, …)`
//! counts them: `count(DISTINCT token.id)` over the token query with its node-specific realm
//! filter (`all_nodes=False`). A token counts unless its owner is served only by other nodes:
//! the owner's resolver is in some realm but in none for this node, or the owner's realm has
//! resolvers and none of them is for this node. A resolver in no realm and a realm without
//! resolvers leave the token counted ("such a token is shown on every node"), and a token with
//! several owners counts once. (Confirmed against privacyIDEA 3.14 on the same database:
//! tests/fixtures/periodic/.)
//! `user_with_token` is `get_users_with_active_tokens`: the distinct (resolver, user id) pairs
//! owning an active token, on every node.

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

/// The resolvers and realms of `_create_token_query`'s walk over `get_realms()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRealms {
    /// Resolvers in some realm for all nodes or for this node.
    pub resolvers: Vec<String>,
    /// Resolvers in some realm, for any node.
    pub resolvers_of_any_node: Vec<String>,
    /// Lower-cased names of realms that have resolvers, none of them for this node.
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
    // (realm, has a resolver, has a resolver for this node)
    let mut realms: Vec<(String, bool, bool)> = Vec::new();
    for r in rows {
        let realm = r.get(0).as_str().unwrap_or_default().to_string();
        if !realms.iter().any(|(n, _, _)| *n == realm) {
            realms.push((realm.clone(), false, false));
        }
        let resolver = r.get(1).as_str().unwrap_or_default();
        if resolver.is_empty() {
            continue;
        }
        let node = r.get(2).as_str().unwrap_or_default();
        let here = node.is_empty() || Some(node) == node_uuid;
        if here {
            out.resolvers.push(resolver.to_string());
        }
        if !out.resolvers_of_any_node.iter().any(|n| n == resolver) {
            out.resolvers_of_any_node.push(resolver.to_string());
        }
        if let Some(entry) = realms.iter_mut().find(|(n, _, _)| *n == realm) {
            entry.1 = true;
            entry.2 |= here;
        }
    }
    out.resolvers_of_any_node.sort();
    out.excluded_realms = realms
        .into_iter()
        .filter(|(_, has_resolvers, here)| *has_resolvers && !here)
        .map(|(n, _, _)| n.to_lowercase())
        .collect();
    Ok(out)
}

/// `IN (…)` / `NOT IN (…)` with placeholders; an empty list is SQLAlchemy's empty set: `IN`
/// never true, `NOT IN` always true (even for NULL).
fn in_list(column: &str, negate: bool, values: &[String], params: &mut Vec<Value>) -> String {
    if values.is_empty() {
        return if negate { "1 = 1" } else { "1 <> 1" }.into();
    }
    params.extend(values.iter().map(|v| Value::Text(v.clone())));
    let not = if negate { "NOT " } else { "" };
    format!("{column} {not}IN ({})", vec!["?"; values.len()].join(", "))
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
        "SELECT count(DISTINCT t.{id}) FROM {token} t \
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
    let resolver = format!("o.{}", q("resolver"));
    let resolver_here = in_list(&resolver, false, &realms.resolvers, &mut params);
    let resolver_in_no_realm = in_list(&resolver, true, &realms.resolvers_of_any_node, &mut params);
    conditions.push(format!(
        "(o.{} IS NULL OR {resolver_here} OR {resolver_in_no_realm})",
        q("id")
    ));
    let excluded = in_list(
        &format!("lower(r.{})", q("name")),
        true,
        &realms.excluded_realms,
        &mut params,
    );
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
