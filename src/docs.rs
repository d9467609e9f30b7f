//! Documentation generated from the code, so that it cannot drift: the
//! directive table of every site type (`docs/directives.md`).

use std::fmt::Write;

use crate::registry::Registry;
use crate::script::directives::ALIASES;
use crate::script::Rule;

/// `docs/directives.md`: for each site type, how every generic directive is
/// translated.
pub fn directives_markdown(reg: &Registry) -> String {
    let mut s = String::new();
    s.push_str("# Directives\n\n");
    s.push_str("<!-- Generated from the code by `TROIKA_UPDATE_DOCS=1 cargo test --test integration docs`; do not edit. -->\n\n");
    s.push_str(
        "Job scripts carry generic directives, `# troika NAME=VALUE` (the keyword in any case, the name \
         case-sensitive), or get them on the command line with `-D NAME=VALUE`. Each site type translates \
         them into its scheduler's own directives. `-o OUTPUT` always sets `output_file`. A site's \
         `directive_translate` replaces an entry (`%s` is the value) or disables it (`null`); names that a \
         site cannot translate follow its `unknown_directive` setting (`warn` by default).\n\n",
    );
    s.push_str("Aliases: ");
    let aliases: Vec<String> = ALIASES.iter().map(|(a, c)| format!("`{a}` = `{c}`")).collect();
    s.push_str(&aliases.join(", "));
    s.push_str(".\n");
    for t in &reg.sites {
        let _ = write!(s, "\n## `{}`\n\n", t.name);
        match t.syntax.prefix {
            Some(p) => {
                let _ = writeln!(s, "Generated directives start with `{}`.", p.trim_end());
            }
            None => s.push_str("No directives are generated: `# troika` lines are removed from the script.\n"),
        }
        match &t.syntax.native {
            Some(n) => {
                let _ = write!(
                    s,
                    "Native `#{}` lines are kept, one per option (the last one wins)",
                    n.prefix
                );
                if n.drop.is_empty() {
                    s.push_str(".\n");
                } else {
                    let d: Vec<String> = n.drop.iter().map(|k| format!("`{k}`")).collect();
                    let _ = writeln!(s, "; {} are dropped, as troika sets the output.", d.join(", "));
                }
            }
            None => s.push_str(
                "Other lines, native directives of any scheduler included, stay in the script as they are.\n",
            ),
        }
        if t.syntax.table.entries.is_empty() {
            continue;
        }
        s.push_str("\n| directive | translation |\n|---|---|\n");
        let prefix = t.syntax.prefix.unwrap_or("");
        for e in t.syntax.table.entries {
            let tr = match e.rule {
                Rule::Format(f) => format!("`{}{}`", prefix, f.replace("%s", "<value>").replace("%%", "%")),
                Rule::Func(_, doc) => doc.to_string(),
                Rule::Ignore => "(accepted, nothing generated)".to_string(),
            };
            let _ = writeln!(s, "| `{}` | {} |", e.name, tr);
        }
    }
    s
}
