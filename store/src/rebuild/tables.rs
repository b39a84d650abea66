//! How a rebuild empties the read models and makes them whole again, on each store. Both
//! fill tables without their secondary indexes and index them once full: building an index
//! from sorted rows is about half the work of keeping it up entry by entry (the search
//! index's trigrams most of all). Readers keep the old rows until the rebuild commits.

use super::READ_MODELS;

/// What a rebuild's writes go to, and what it must do again once they are written.
pub(super) struct Plan {
    /// The tables the rows are written to, in [`READ_MODELS`] order.
    pub targets: Vec<String>,
    /// SQLite: the read models' indexes and triggers, set aside (`kind`, name, definition).
    set_aside: Vec<(String, String, String)>,
}

/// A store's way of emptying the read models before a rebuild and finishing them after.
pub(super) trait Refill {
    /// Readies empty tables for the rows, in the rebuild's transaction.
    async fn empty(&mut self) -> Result<Plan, sqlx::Error>;
    /// Indexes the written rows and makes them the read models, in the same transaction.
    async fn finish(&mut self, plan: Plan) -> Result<(), sqlx::Error>;
}

/// PostgreSQL fills a new table beside each read model (its columns, defaults, checks,
/// storage parameters, owner and table grants; no index at all, keys included), indexes
/// and analyses it, then drops the old table and gives the new one its name, its indexes'
/// and constraints' names and its statistics objects. Readers wait only for that last step,
/// a few catalogue changes. Deleting the old rows instead left every table and index full
/// of dead entries, which each insert of the same key had to step over and a vacuum had to
/// clear afterwards. What the migrations never put on a read model (triggers, row security,
/// column grants, comments, publications) is not carried over.
impl Refill for sqlx::PgConnection {
    async fn empty(&mut self) -> Result<Plan, sqlx::Error> {
        // A view, foreign key or function on an old table would stop its drop at the very
        // end, after all the work: refuse now, saying what. (Two halves rather than an
        // `OR`, so that each is read by `pg_depend`'s index.)
        let tables = READ_MODELS.map(|t| format!("'{t}'::regclass")).join(", ");
        let dependents: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_class c \
             JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid \
             WHERE c.oid IN ({tables}) AND d.deptype = 'n' \
             UNION SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_class c \
             JOIN pg_depend d ON d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype \
             WHERE c.oid IN ({tables}) AND d.deptype = 'n' ORDER BY 1"
        ))
        .fetch_all(&mut *self)
        .await?;
        if !dependents.is_empty() {
            return Err(sqlx::Error::Protocol(format!(
                "the rebuild replaces the tables {}, and these depend on them: {}; \
                 drop them first",
                READ_MODELS.join(", "),
                dependents.join(", ")
            )));
        }
        let mut targets = Vec::new();
        for table in READ_MODELS {
            let old = Old::find(self, table).await?;
            let fresh = old.fresh(table);
            let with = match old.options {
                Some(options) if !options.is_empty() => format!(" WITH ({options})"),
                _ => String::new(),
            };
            sqlx::query(&format!(
                "CREATE TABLE {fresh} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
                 INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMPRESSION)\
                 {with}"
            ))
            .execute(&mut *self)
            .await?;
            // The old table's owner and grants: a rebuild run by another role (an operator
            // as superuser) must not leave the service's own role locked out of its tables.
            sqlx::query(&format!("ALTER TABLE {fresh} OWNER TO {}", old.owner))
                .execute(&mut *self)
                .await?;
            let grants: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT format('GRANT %s ON {fresh} TO %s%s', a.privilege_type, \
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                        ELSE quote_ident(pg_get_userbyid(a.grantee)) END, \
                   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) \
                 FROM pg_class c, aclexplode(c.relacl) a \
                 WHERE c.oid = '{table}'::regclass AND a.grantee <> c.relowner"
            ))
            .fetch_all(&mut *self)
            .await?;
            for grant in grants {
                sqlx::query(&grant).execute(&mut *self).await?;
            }
            targets.push(fresh);
        }
        Ok(Plan {
            targets,
            set_aside: Vec::new(),
        })
    }

    async fn finish(&mut self, plan: Plan) -> Result<(), sqlx::Error> {
        // Run once the old tables are gone: each name given back.
        let mut names = Vec::new();
        let mut made = 0;
        for (table, fresh) in READ_MODELS.iter().zip(&plan.targets) {
            let Old { schema, .. } = Old::find(self, table).await?;
            // Valid indexes only: one left invalid by a failed concurrent build is not used,
            // and made again it could fail the rebuild.
            let indexes: Vec<(String, String, Option<String>, Option<String>)> =
                sqlx::query_as(&format!(
                    "SELECT quote_ident(i.relname), pg_get_indexdef(i.oid), \
                     quote_ident(c.conname), c.contype::text \
                     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                     LEFT JOIN pg_constraint c \
                       ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid \
                     WHERE x.indrelid = '{table}'::regclass AND x.indisvalid \
                     ORDER BY i.relname"
                ))
                .fetch_all(&mut *self)
                .await?;
            for (name, definition, constraint, kind) in indexes {
                made += 1;
                let temporary = format!("{table}_rebuilt_{made}");
                // `CREATE [UNIQUE] INDEX name ON schema.table USING …`, as PostgreSQL prints it.
                let Some((head, tail)) =
                    definition.split_once(&format!(" INDEX {name} ON {schema}.{table} "))
                else {
                    return Err(unexpected(&definition));
                };
                sqlx::query(&format!("{head} INDEX {temporary} ON {fresh} {tail}"))
                    .execute(&mut *self)
                    .await?;
                names.push(match (constraint, kind.as_deref()) {
                    (None, _) => format!("ALTER INDEX {schema}.{temporary} RENAME TO {name}"),
                    (Some(constraint), Some("p")) => format!(
                        "ALTER TABLE {schema}.{table} ADD CONSTRAINT {constraint} \
                         PRIMARY KEY USING INDEX {temporary}"
                    ),
                    (Some(constraint), Some("u")) => format!(
                        "ALTER TABLE {schema}.{table} ADD CONSTRAINT {constraint} \
                         UNIQUE USING INDEX {temporary}"
                    ),
                    (Some(_), _) => return Err(unexpected(&definition)),
                });
            }
            // Extended statistics (the search words' frequencies, migration 0018).
            let statistics: Vec<(String, String, String, String, String)> =
                sqlx::query_as(&format!(
                    "SELECT quote_ident(n.nspname), quote_ident(s.stxname), \
                     pg_get_statisticsobjdef(s.oid), '{table}'::regclass::text, \
                     quote_ident(pg_get_userbyid(s.stxowner)) \
                     FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace \
                     WHERE s.stxrelid = '{table}'::regclass ORDER BY s.stxname"
                ))
                .fetch_all(&mut *self)
                .await?;
            for (namespace, name, definition, relation, owner) in statistics {
                made += 1;
                let temporary = format!("{namespace}.{table}_rebuilt_{made}");
                // `CREATE STATISTICS schema.name … FROM table`, as PostgreSQL prints it.
                let Some(body) = definition
                    .strip_prefix(&format!("CREATE STATISTICS {namespace}.{name} "))
                    .and_then(|rest| rest.strip_suffix(&format!(" FROM {relation}")))
                else {
                    return Err(unexpected(&definition));
                };
                sqlx::query(&format!(
                    "CREATE STATISTICS {temporary} {body} FROM {fresh}"
                ))
                .execute(&mut *self)
                .await?;
                sqlx::query(&format!("ALTER STATISTICS {temporary} OWNER TO {owner}"))
                    .execute(&mut *self)
                    .await?;
                names.push(format!("ALTER STATISTICS {temporary} RENAME TO {name}"));
            }
            // The planner's statistics, kept with the table through its rename.
            sqlx::query(&format!("ANALYZE {fresh}"))
                .execute(&mut *self)
                .await?;
        }
        lock_for_swap(self).await?;
        sqlx::query(&format!("DROP TABLE {}", READ_MODELS.join(", ")))
            .execute(&mut *self)
            .await?;
        for (table, fresh) in READ_MODELS.iter().zip(&plan.targets) {
            sqlx::query(&format!("ALTER TABLE {fresh} RENAME TO {table}"))
                .execute(&mut *self)
                .await?;
        }
        for statement in names {
            sqlx::query(&statement).execute(&mut *self).await?;
        }
        Ok(())
    }
}

/// What the swap needs to know of an old read-model table.
struct Old {
    /// Its schema, quoted as an identifier.
    schema: String,
    /// Its owner's role, quoted as an identifier.
    owner: String,
    /// Its storage parameters, as `WITH (…)` takes them.
    options: Option<String>,
}

impl Old {
    async fn find(conn: &mut sqlx::PgConnection, table: &str) -> Result<Self, sqlx::Error> {
        let (schema, owner, options) = sqlx::query_as(&format!(
            "SELECT quote_ident(n.nspname), quote_ident(pg_get_userbyid(c.relowner)), \
             array_to_string(c.reloptions, ', ') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = '{table}'::regclass"
        ))
        .fetch_one(&mut *conn)
        .await?;
        Ok(Self {
            schema,
            owner,
            options,
        })
    }

    /// The new table's name, in the old one's schema.
    fn fresh(&self, table: &str) -> String {
        format!("{}.{table}_rebuilt", self.schema)
    }
}

/// How long each try to lock the old read models for the swap may wait.
const SWAP_WAIT: &str = "100ms";

/// Locks the old read models against readers too. The rebuild holds them against writers
/// already, so it goes ahead of any queued command and waits only for reads under way. It
/// never waits in line for good: readers arriving behind it would wait too, all of them for
/// as long as a long read (a `pg_dump`, `verify --all`) lasts, and a reader holding one
/// table while asking for another would deadlock with it, which PostgreSQL breaks after a
/// second by aborting one side, perhaps the rebuild and all its work. So each try waits
/// [`SWAP_WAIT`] at most, then lets go of what it took, and readers go on; the rebuild
/// tries again until no read holds the tables.
async fn lock_for_swap(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let lock = format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        READ_MODELS.join(", ")
    );
    let before: String = sqlx::query_scalar("SELECT current_setting('lock_timeout')")
        .fetch_one(&mut *conn)
        .await?;
    loop {
        sqlx::query("SAVEPOINT swap").execute(&mut *conn).await?;
        sqlx::query(&format!("SET LOCAL lock_timeout = '{SWAP_WAIT}'"))
            .execute(&mut *conn)
            .await?;
        match sqlx::query(&lock).execute(&mut *conn).await {
            Ok(_) => {
                sqlx::query("RELEASE SAVEPOINT swap")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("SELECT set_config('lock_timeout', $1, true)")
                    .bind(&before)
                    .execute(&mut *conn)
                    .await?;
                return Ok(());
            }
            // lock_not_available: the wait ran out. Rolling back to the savepoint lets go
            // of the tables this try took and of its `lock_timeout`; releasing it keeps
            // the tries from nesting.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
                sqlx::query("ROLLBACK TO SAVEPOINT swap")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("RELEASE SAVEPOINT swap")
                    .execute(&mut *conn)
                    .await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A catalogue definition in a shape the swap does not know how to make again.
fn unexpected(definition: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!(
        "the rebuild cannot recreate this read-model definition: {definition}"
    ))
}

/// SQLite empties the read models in place, with their secondary indexes and the search
/// index's triggers set aside, and makes those again at the end: SQLite's DDL is
/// transactional, so readers keep the old rows and schema until the commit.
impl Refill for sqlx::SqliteConnection {
    async fn empty(&mut self) -> Result<Plan, sqlx::Error> {
        let set_aside: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT type, name, sql FROM sqlite_master \
             WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND tbl_name IN ('{}') \
             ORDER BY type, name",
            READ_MODELS.join("', '")
        ))
        .fetch_all(&mut *self)
        .await?;
        for (kind, name, _) in &set_aside {
            sqlx::query(&format!("DROP {kind} \"{name}\""))
                .execute(&mut *self)
                .await?;
        }
        for table in READ_MODELS {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *self)
                .await?;
        }
        Ok(Plan {
            targets: READ_MODELS.iter().map(|t| t.to_string()).collect(),
            set_aside,
        })
    }

    async fn finish(&mut self, plan: Plan) -> Result<(), sqlx::Error> {
        for (_, _, sql) in &plan.set_aside {
            sqlx::query(sql).execute(&mut *self).await?;
        }
        // The trigram index (migrations 0012 and 0022), whose triggers were set aside,
        // built again from the queue rows.
        if !plan.set_aside.is_empty() {
            sqlx::query("INSERT INTO case_search (case_search) VALUES ('rebuild')")
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}
