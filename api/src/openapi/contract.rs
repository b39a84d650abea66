//! What the handler annotations leave out of the document, added to every operation
//! alike so that it cannot drift per route: the error statuses that middleware and the
//! store can answer with on any route, and the links that say which response supplies
//! the ids of which later request (what a client, or a stateful test, follows).

use serde_json::{json, Map, Value};

/// The generated document with the shared statuses, constraints and links added.
pub fn complete(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    let operations = operations(&doc);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                add_statuses(path, method, operation);
                add_links(method, operation, &operations);
            }
        }
    }
    constrain(&mut doc);
    doc
}

/// An operation: its id, its path and the path parameters it needs.
struct Operation {
    id: String,
    path: String,
    params: Vec<String>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return found;
    };
    for (path, item) in paths {
        for operation in item.as_object().into_iter().flat_map(|m| m.values()) {
            let Some(id) = operation.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let params = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_string)
                .collect();
            found.push(Operation {
                id: id.to_string(),
                path: path.clone(),
                params,
            });
        }
    }
    found
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Adds each status the service can answer this operation with that the handler's
/// annotation does not list; an annotation's own description is kept.
fn add_statuses(path: &str, method: &str, operation: &mut Value) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let api = path.starts_with("/api/v1/");
    let authenticated = api || path == "/metrics";
    let write = matches!(method, "post" | "put" | "delete" | "patch");
    let has_params = path.contains('{');
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| error(description));
    };
    if authenticated {
        add(
            "401",
            "`unauthorized`: no bearer token, or one this server did not issue",
        );
        // Every authenticated request reads the store to check its token.
        add(
            "503",
            "`unavailable`: the store cannot be reached; retry after `Retry-After` seconds",
        );
    }
    if api && path != "/api/v1/me" {
        add("403", "`forbidden`: none of the caller's roles may do this");
    }
    if api && has_params {
        add("404", "`not_found`: nothing has this id");
    }
    if api && (write || method == "get") {
        add(
            "400",
            "Malformed JSON, query or header (`malformed_json`, `invalid_query`, …)",
        );
    }
    if api && write {
        add(
            "409",
            "A conflict with the current state: a rule of the procedure, \
             `concurrent_modification` or `idempotency_key_in_progress` (both retryable)",
        );
        add("413", "`payload_too_large`: the body is over the limit");
        add(
            "415",
            "`unsupported_media_type`: the body is not sent as JSON",
        );
        add(
            "422",
            "A field is missing or wrong (`invalid_body`, `invalid_field`), a rule \
             refuses the request, or the store refuses a value as sent \
             (`unstorable_input`); `details` says which",
        );
        add(
            "507",
            "`storage_full`: the store has no room; nothing of the request was recorded",
        );
    }
}

/// Where the case that operation `source` returned fills path parameter `param` of a
/// later request: the case id always, the id of something inside the case only after
/// the operation that adds it (before that the case has none to point at).
fn from_case(source: &str, param: &str) -> Option<&'static str> {
    Some(match (param, source) {
        ("id", _) => "$response.body#/id",
        ("evidence_id", "attach") => "$response.body#/evidence/0/evidence_id",
        ("action_id", "stage1_response" | "stage2_response") => {
            "$response.body#/actions/0/action_id"
        }
        ("representative_id", "add_representative") => {
            "$response.body#/representatives/0/representative_id"
        }
        ("learning_id", "record_learning" | "record_learning_on_case") => {
            "$response.body#/learning/0/learning_id"
        }
        _ => return None,
    })
}

/// Whether the `{id}` of `path` is a case id: the operations on one case, and on its
/// learning actions.
fn on_case(path: &str) -> bool {
    path.starts_with("/api/v1/complaints/{id}") || path.starts_with("/api/v1/learning/{id}/")
}

/// Links from a successful response to the operations that need the ids it carries.
fn add_links(method: &str, operation: &mut Value, operations: &[Operation]) {
    // A read creates nothing: only what creates or changes state leads on.
    if method == "get" {
        return;
    }
    let operation_id = operation
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if !status.starts_with('2') {
            continue;
        }
        let schema = response
            .pointer("/content/application~1json/schema/$ref")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut links = Map::new();
        let operation_id = operation_id.as_str();
        for target in operations {
            let parameters: Option<Map<String, Value>> = match schema.as_str() {
                // A case: the operations on it, and on the ids this operation creates in it.
                // Only those: a user's or a webhook's `{id}` is not a case id.
                "#/components/schemas/CaseView" if on_case(&target.path) => target
                    .params
                    .iter()
                    .map(|p| from_case(operation_id, p).map(|e| (p.clone(), json!(e))))
                    .collect(),
                // A letter: reading it again, by its case and its own id.
                "#/components/schemas/Letter" if target.id == "get_letter" => {
                    Some(Map::from_iter([
                        ("id".to_string(), json!("$response.body#/case_id")),
                        ("letter_id".to_string(), json!("$response.body#/letter_id")),
                    ]))
                }
                // A new user, webhook or resident record: the operations on its id.
                "#/components/schemas/UserWithToken" | "#/components/schemas/UserAccount"
                    if target.path.starts_with("/api/v1/users/{id}") =>
                {
                    Some(Map::from_iter([(
                        "id".to_string(),
                        json!("$response.body#/id"),
                    )]))
                }
                "#/components/schemas/WebhookView"
                    if target.path.starts_with("/api/v1/webhooks/{id}") =>
                {
                    Some(Map::from_iter([(
                        "id".to_string(),
                        json!("$response.body#/id"),
                    )]))
                }
                "#/components/schemas/ResidentView"
                    if target.path.starts_with("/api/v1/residents/{resident_id}")
                        || target
                            .path
                            .starts_with("/api/v1/complainants/{resident_id}") =>
                {
                    Some(Map::from_iter([(
                        "resident_id".to_string(),
                        json!("$response.body#/resident_id"),
                    )]))
                }
                _ => None,
            };
            let parameters = parameters.filter(|p| !p.is_empty());
            let Some(parameters) = parameters else {
                continue;
            };
            links.insert(
                target.id.clone(),
                json!({"operationId": target.id, "parameters": parameters}),
            );
        }
        if !links.is_empty() {
            response["links"] = Value::Object(links);
        }
    }
}

/// Constraints the service checks that the types behind the document cannot state.
fn constrain(doc: &mut Value) {
    // Reports come as CSV with `format=csv` (the annual one also as HTML).
    for (report, forms) in [
        ("kpi", &["text/csv"][..]),
        ("tsm", &["text/csv"]),
        ("self-assessment", &["text/csv"]),
        ("annual", &["text/csv", "text/html"]),
    ] {
        let pointer = format!("/paths/~1api~1v1~1reports~1{report}/get/responses/200/content");
        if let Some(content) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) {
            for form in forms {
                content.insert(form.to_string(), json!({"schema": {"type": "string"}}));
            }
        }
    }
    // utoipa writes an unsigned 64-bit field as `int64` with minimum 0, which would
    // cap it at 2^63 - 1; the service reads the whole unsigned range.
    if let Some(all) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in all.values_mut() {
            unsigned(schema);
        }
    }
    // Query parameters whose form the handlers parse themselves.
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        let parameters = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .filter_map(|operation| operation.get_mut("parameters"))
            .filter_map(Value::as_array_mut)
            .flatten();
        for parameter in parameters {
            match parameter.get("name").and_then(Value::as_str) {
                Some("as_of") => {
                    parameter["schema"] = json!({"anyOf": [
                        {"type": "string", "format": "date-time"},
                        {"type": "string", "format": "date"},
                    ]});
                }
                Some("year") => parameter["schema"] = reporting_year(),
                _ if parameter.get("in") == Some(&json!("query")) => {
                    if let Some(schema) = parameter.get_mut("schema") {
                        forbid_nul(schema);
                    }
                }
                _ => {}
            }
        }
    }
    let schemas = "/components/schemas";
    if let Some(year) = doc.pointer_mut(&format!("{schemas}/Homes/properties/year")) {
        *year = reporting_year();
    }
    // A download comes as the media type its file was uploaded with.
    let download =
        "/paths/~1api~1v1~1complaints~1{id}~1evidence~1{evidence_id}/get/responses/200/content";
    if let Some(content) = doc.pointer_mut(download).and_then(Value::as_object_mut) {
        for form in crate::routes::evidence::ALLOWED_MEDIA_TYPES {
            content.insert(form.to_string(), json!({}));
        }
    }
    // Each part of an evidence upload, and the media types its file may have.
    if let Some(upload) = doc.pointer_mut(&format!("{schemas}/EvidenceUpload")) {
        upload["additionalProperties"] = json!(false);
    }
    let upload = "/paths/~1api~1v1~1complaints~1{id}~1evidence/post/requestBody/content/multipart~1form-data";
    if let Some(form) = doc.pointer_mut(upload) {
        form["encoding"] = json!({"file": {"contentType": crate::routes::evidence::ALLOWED_MEDIA_TYPES.join(", ")}});
    }
    // A command on an entry of a case takes the entry's id from the path; in the body
    // it may be left out, and if given must be the path's.
    for (schema, field) in [
        ("EndRepresentative", "representative_id"),
        ("SetAction", "action_id"),
        ("CompleteAction", "action_id"),
        ("CompleteLearning", "learning_id"),
    ] {
        if let Some(required) = doc
            .pointer_mut(&format!("{schemas}/{schema}/required"))
            .and_then(Value::as_array_mut)
        {
            required.retain(|name| name != field);
        }
        if let Some(property) = doc.pointer_mut(&format!("{schemas}/{schema}/properties/{field}")) {
            property["description"] =
                json!("Optional: the id in the path; another value is refused (422).");
        }
    }
    // Passwords are checked for length before anything else.
    for schema in ["CreateUser", "UpdateUser"] {
        if let Some(password) = doc.pointer_mut(&format!("{schemas}/{schema}/properties/password"))
        {
            password["minLength"] = json!(12);
        }
    }
    // A learning action named by its case: one object, as `record_learning` reads it
    // (an `allOf` with a closed object cannot carry the extra `case_id`).
    if let Some(record) = doc.pointer(&format!("{schemas}/RecordLearning")).cloned() {
        let mut merged = record;
        merged["properties"]["case_id"] = json!({"type": "string", "minLength": 1});
        if let Some(required) = merged["required"].as_array_mut() {
            required.push(json!("case_id"));
        }
        merged["description"] =
            json!("A learning action recorded against the case named by `case_id`.");
        if let Some(slot) = doc.pointer_mut(&format!("{schemas}/NewLearning")) {
            *slot = merged;
        }
    }
    // The events a webhook can ask for, and the addresses it can post to.
    if let Some(hook) = doc.pointer_mut(&format!("{schemas}/CreateWebhook/properties")) {
        hook["events"]["items"] =
            json!({"type": "string", "enum": ["SlaAlertRaised", "SlaAlertResolved"]});
        hook["url"]["pattern"] = json!("^https?://");
    }
    if let Some(evidence) = doc.pointer_mut(&format!("{schemas}/AttachEvidence/properties")) {
        evidence["media_type"]["pattern"] = json!("/");
        evidence["media_type"]["maxLength"] = json!(200);
    }
}

/// A query's free text cannot hold a NUL (`%00`): the service refuses one `400
/// invalid_query` before any handler reads it (`routes::ops::refuse_nul`), as PostgreSQL
/// text cannot store one. Said on every string parameter with no other form.
fn forbid_nul(schema: &mut Value) {
    let is_text = match schema.get("type") {
        Some(Value::String(kind)) => kind == "string",
        Some(Value::Array(kinds)) => kinds.contains(&json!("string")),
        _ => false,
    };
    let has_form = ["enum", "pattern", "format"]
        .iter()
        .any(|key| schema.get(key).is_some());
    if is_text && !has_form {
        schema["pattern"] = json!("^[^\\x00]*$");
    }
}

fn unsigned(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.get("format") == Some(&json!("int64"))
                && object.get("minimum") == Some(&json!(0))
            {
                object.insert("format".to_string(), json!("uint64"));
            }
            object.values_mut().for_each(unsigned);
        }
        Value::Array(items) => items.iter_mut().for_each(unsigned),
        _ => {}
    }
}

/// A reporting year the service keeps, `1000-01` to `9998-99`: four digits, then the
/// last two of the next year.
fn reporting_year() -> Value {
    let pairs: Vec<String> = (0..99).map(|n| format!("{n:02}-{:02}", n + 1)).collect();
    json!({
        "type": "string",
        "pattern": format!("^([1-9][0-9]({})|([1-8][0-9]|9[0-8])99-00)$", pairs.join("|")),
    })
}
