//! The template engine set up the same way for letters and the case file.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};

/// Block tags on their own lines leave no blank lines behind, and a file's final newline
/// is kept, so text output reads as the template is laid out.
pub(crate) fn environment(
    undefined: UndefinedBehavior,
) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    env.set_undefined_behavior(undefined);
    Ok(env)
}
