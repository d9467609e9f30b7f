//! A queueing system described entirely in the configuration: directive
//! prefix, native directives, translation table, and the submit, monitor and
//! kill commands as argument-vector templates.
//!
//! ```yaml
//! type: templated
//! directive_prefix: '#SBATCH '
//! native_prefix: SBATCH
//! native_drop: [-o, --output, -e, --error]
//! directives: {name: '--job-name=%s', walltime: '--time=%s', output_file: '--output=%s'}
//! submit_command: [sbatch]
//! script_input: stdin
//! job_id_pattern: 'Submitted batch job {jobid}'
//! monitor_command: [squeue, [-u, '{user}'], -j, '{jobid}']
//! kill_command: [scancel, '{jobid}']
//! signal_command: [scancel, '{jobid}', -f, -s, '{signal}']
//! ```
//!
//! Placeholders: `{script}`, `{output}` (submit), `{jobid}` (monitor, kill),
//! `{user}` (`-u`), `{signal}` and `{signal_name}` (signal); `{{` and `}}`
//! are literal braces. A nested list is an optional group of arguments,
//! left out when a placeholder in it has no value (`{user}` without `-u`).

use std::path::Path;

use nix::sys::signal::Signal;

use super::batch::{
    command_failed, BatchSite, Job, KillCommand, Recovery, Scheduler, ScriptInput, StateQueries, ToSubmit,
};
use super::{ScriptSyntax, SiteSettings, SiteType, Submission, Traits};
use crate::config::{Node, SiteConfig, Value};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::script::translate::Table;
use crate::script::NativeSyntax;
use crate::util::quote;

pub const KEYS: &[&str] = &[
    "native_prefix",
    "native_drop",
    "rewrite_native",
    "directives",
    "submit_command",
    "script_input",
    "job_id_pattern",
    "monitor_command",
    "kill_command",
    "signal_command",
    "vanished_patterns",
];

pub fn site_type() -> SiteType {
    SiteType {
        name: "templated",
        keys: KEYS,
        // Everything comes from the configuration, see `TemplatedSite::new`.
        syntax: ScriptSyntax {
            prefix: None,
            native: None,
            table: Table::EMPTY,
            units: Some(super::units::Style::AsWritten),
        },
        traits: Traits {
            syntax_from_config: true,
            ..Traits::default()
        },
        create: |s| BatchSite::create(s, Templated::new),
    }
}

/// A value a template can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    Script,
    Output,
    JobId,
    User,
    Signal,
    SignalName,
}

impl Var {
    fn parse(name: &str) -> Option<Var> {
        Some(match name {
            "script" => Var::Script,
            "output" => Var::Output,
            "jobid" => Var::JobId,
            "user" => Var::User,
            "signal" => Var::Signal,
            "signal_name" => Var::SignalName,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Var::Script => "{script}",
            Var::Output => "{output}",
            Var::JobId => "{jobid}",
            Var::User => "{user}",
            Var::Signal => "{signal}",
            Var::SignalName => "{signal_name}",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Lit(String),
    Var(Var),
}

/// One argument: literal text and placeholders.
type Word = Vec<Piece>;

#[derive(Clone, Debug, PartialEq)]
enum Arg {
    Word(Word),
    /// Left out entirely when one of its placeholders has no value.
    Group(Vec<Word>),
}

/// An argument-vector template.
#[derive(Clone, Debug)]
struct Template {
    key: &'static str,
    args: Vec<Arg>,
}

/// The values of one command's placeholders.
#[derive(Default)]
struct Values<'a> {
    script: Option<&'a str>,
    output: Option<&'a str>,
    jobid: Option<&'a str>,
    user: Option<&'a str>,
    signal: Option<String>,
    signal_name: Option<&'a str>,
}

impl Values<'_> {
    fn get(&self, v: Var) -> Option<&str> {
        match v {
            Var::Script => self.script,
            Var::Output => self.output,
            Var::JobId => self.jobid,
            Var::User => self.user,
            Var::Signal => self.signal.as_deref(),
            Var::SignalName => self.signal_name,
        }
    }
}

/// Splits `{name}` placeholders out of `text`; `{{` and `}}` are braces.
fn parse_word(text: &str) -> std::result::Result<Word, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|p| p.1) == Some('{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek().map(|p| p.1) == Some('}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let rest = &text[i + 1..];
                let end = rest
                    .find('}')
                    .ok_or_else(|| format!("unclosed '{{' in {} (write '{{{{' for a brace)", quote(text)))?;
                let name = &rest[..end];
                let var = Var::parse(name).ok_or_else(|| {
                    format!(
                        "unknown placeholder {} in {} (known: {{script}}, {{output}}, {{jobid}}, {{user}}, {{signal}}, {{signal_name}})",
                        quote(&format!("{{{name}}}")),
                        quote(text)
                    )
                })?;
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(Piece::Var(var));
                for _ in 0..name.chars().count() + 1 {
                    chars.next();
                }
            }
            '}' => return Err(format!("single '}}' in {} (write '}}}}' for a brace)", quote(text))),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() || out.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Ok(out)
}

impl Template {
    /// Reads `key`: a program name, or a list of arguments and optional
    /// groups (nested lists). Placeholders must be among `allowed`.
    fn from_config(cfg: &SiteConfig, key: &'static str, allowed: &[Var]) -> Result<Option<Template>> {
        let Some(node) = cfg.get(key).filter(|n| !n.is_null()) else {
            return Ok(None);
        };
        let err = |n: &Node, msg: String| Error::config(format!("{}: site '{}': '{key}': {msg}", cfg.at(n), cfg.name));
        let word = |n: &Node| -> Result<Word> {
            let text = match &n.value {
                Value::Str(_) | Value::Int(_) | Value::Float(_) => n.scalar_text().unwrap_or_default(),
                _ => return Err(err(n, format!("expected a string, found {}", n.kind()))),
            };
            let w = parse_word(&text).map_err(|m| err(n, m))?;
            for p in &w {
                if let Piece::Var(v) = p {
                    if !allowed.contains(v) {
                        let known: Vec<&str> = allowed.iter().map(|a| a.name()).collect();
                        return Err(err(
                            n,
                            format!(
                                "placeholder {} in {} cannot be used in this command (it knows {})",
                                v.name(),
                                quote(&text),
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
            Ok(w)
        };
        let args = match &node.value {
            Value::Seq(items) => items
                .iter()
                .map(|i| match &i.value {
                    Value::Seq(group) if !group.is_empty() => {
                        Ok(Arg::Group(group.iter().map(word).collect::<Result<_>>()?))
                    }
                    _ => Ok(Arg::Word(word(i)?)),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => vec![Arg::Word(word(node)?)],
        };
        match args.first() {
            Some(Arg::Word(w)) if w != &vec![Piece::Lit(String::new())] => {}
            _ => return Err(err(node, "the first item must be the program to run".into())),
        }
        Ok(Some(Template { key, args }))
    }

    fn uses(&self, var: Var) -> bool {
        self.args.iter().any(|a| match a {
            Arg::Word(w) => w.contains(&Piece::Var(var)),
            Arg::Group(ws) => ws.iter().any(|w| w.contains(&Piece::Var(var))),
        })
    }

    /// The argument vector for `values`.
    fn render(&self, site: &str, values: &Values) -> Result<Vec<String>> {
        let fill = |w: &Word| -> Option<String> {
            let mut s = String::new();
            for p in w {
                match p {
                    Piece::Lit(l) => s.push_str(l),
                    Piece::Var(v) => s.push_str(values.get(*v)?),
                }
            }
            Some(s)
        };
        let mut argv = Vec::new();
        for a in &self.args {
            match a {
                Arg::Word(w) => argv.push(fill(w).ok_or_else(|| {
                    Error::invocation(format!(
                        "Site '{site}': '{}' needs {{user}}: pass -u USER, or put the argument in an optional group (a nested list)",
                        self.key
                    ))
                })?),
                Arg::Group(ws) => {
                    if let Some(filled) = ws.iter().map(fill).collect::<Option<Vec<_>>>() {
                        argv.extend(filled);
                    }
                }
            }
        }
        Ok(argv)
    }
}

/// `job_id_pattern`: literal text around one `{jobid}`, which matches a run
/// of non-blank characters. The pattern may appear anywhere in a line; the
/// first line where it does gives the job id.
#[derive(Clone, Debug)]
struct JobIdPattern {
    before: String,
    after: String,
}

impl JobIdPattern {
    fn parse(text: &str) -> std::result::Result<JobIdPattern, String> {
        let (before, after) = text
            .split_once("{jobid}")
            .ok_or_else(|| format!("{} has no {{jobid}}", quote(text)))?;
        if after.contains("{jobid}") {
            return Err(format!("{} has more than one {{jobid}}", quote(text)));
        }
        Ok(JobIdPattern {
            before: before.to_string(),
            after: after.to_string(),
        })
    }

    fn find(&self, output: &str) -> Option<String> {
        output.lines().find_map(|l| self.find_in_line(l))
    }

    fn find_in_line(&self, line: &str) -> Option<String> {
        let starts: Vec<usize> = if self.before.is_empty() {
            // Every start of a word.
            line.char_indices()
                .filter(|(i, c)| !c.is_whitespace() && line[..*i].chars().next_back().is_none_or(char::is_whitespace))
                .map(|(i, _)| i)
                .collect()
        } else {
            line.match_indices(self.before.as_str())
                .map(|(i, _)| i + self.before.len())
                .collect()
        };
        for start in starts {
            let rest = &line[start..];
            let run = rest.find(char::is_whitespace).unwrap_or(rest.len());
            // The longest id that the rest of the pattern follows.
            let ends = rest[..run].char_indices().map(|(i, c)| i + c.len_utf8()).rev();
            for end in ends {
                if rest[end..].starts_with(self.after.as_str()) {
                    return Some(rest[..end].to_string());
                }
            }
        }
        None
    }
}

/// A queueing system described in the configuration.
pub struct Templated {
    name: String,
    submit: Template,
    script_input: ScriptInput,
    job_id: JobIdPattern,
    monitor: Template,
    kill: Template,
    signal: Option<Template>,
    vanished: Vec<String>,
}

/// Leaks a string for the `'static` native syntax. A site is built once per
/// troika run, so this is a few bytes for the life of the process.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

impl Templated {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        let cfg = &s.config;
        let name = cfg.name.clone();
        let at = |key: &str| cfg.get(key).map(|n| cfg.at(n)).unwrap_or_else(|| cfg.location());
        if cfg.get("directive_prefix").is_none() {
            return Err(Error::config(format!(
                "{}: site '{name}': a templated site needs 'directive_prefix' (e.g. '#SBATCH '), or null to generate no directives",
                cfg.location()
            )));
        }

        // Native directives.
        if let Some(prefix) = cfg.opt_str("native_prefix")? {
            if prefix.is_empty() || prefix.contains(char::is_whitespace) {
                return Err(Error::config(format!(
                    "{}: site '{name}': 'native_prefix' must be one word after '#' (e.g. SBATCH), found {}",
                    at("native_prefix"),
                    quote(&prefix)
                )));
            }
            let drop: Vec<&'static str> = cfg.str_list("native_drop")?.into_iter().map(leak).collect();
            // A built-in scheduler's prefix reads as that scheduler reads it
            // (and messages name its command); any other as qsub lines.
            let (command, option_name_required) = super::builtin()
                .iter()
                .filter_map(|t| t.syntax.native)
                .find(|n| n.prefix == prefix)
                .map_or(("qsub", false), |n| (n.command, n.option_name_required));
            s.syntax.native = Some(NativeSyntax {
                prefix: leak(prefix),
                drop: Box::leak(drop.into_boxed_slice()),
                command,
                option_name_required,
            });
        } else if cfg.has("native_drop") {
            crate::warning!(
                "{}: site '{name}': 'native_drop' has no effect without 'native_prefix'",
                at("native_drop")
            );
        }
        let rewrite_native = cfg.bool_or("rewrite_native", false)?;

        // The translation table: `directives`, then `directive_translate` on top.
        let mut table = crate::script::translate::read_overrides(cfg, "directives")?;

        // Commands.
        let required = |key: &'static str, allowed: &[Var]| -> Result<Template> {
            Template::from_config(cfg, key, allowed)?.ok_or_else(|| {
                Error::config(format!(
                    "{}: site '{name}': a templated site needs '{key}' (a list: the program, then its arguments)",
                    cfg.location()
                ))
            })
        };
        let submit = required("submit_command", &[Var::Script, Var::Output, Var::User])?;
        let monitor = required("monitor_command", &[Var::JobId, Var::User, Var::Script])?;
        let kill = required("kill_command", &[Var::JobId, Var::User, Var::Script])?;
        let signal = Template::from_config(
            cfg,
            "signal_command",
            &[Var::JobId, Var::User, Var::Script, Var::Signal, Var::SignalName],
        )?;
        if s.kill_sequence.is_some() && signal.is_none() {
            return Err(Error::config(format!(
                "{}: site '{name}': 'kill_sequence' needs 'signal_command' (e.g. [scancel, '{{jobid}}', -s, '{{signal}}'])",
                at("kill_sequence")
            )));
        }
        if let Some(t) = &signal {
            if !t.uses(Var::Signal) && !t.uses(Var::SignalName) {
                crate::warning!(
                    "{}: site '{name}': 'signal_command' uses neither {{signal}} nor {{signal_name}}",
                    at("signal_command")
                );
            }
        }
        let script_input = match cfg.opt_str("script_input")?.as_deref() {
            None | Some("stdin") => ScriptInput::Stdin,
            Some("argument") => ScriptInput::Argument,
            Some(other) => {
                return Err(Error::config(format!(
                    "{}: site '{name}': invalid 'script_input' {}: expected 'stdin' or 'argument'",
                    at("script_input"),
                    quote(other)
                )))
            }
        };
        let pattern = cfg.opt_str("job_id_pattern")?.unwrap_or_else(|| "{jobid}".into());
        let job_id = JobIdPattern::parse(&pattern).map_err(|m| {
            Error::config(format!(
                "{}: site '{name}': invalid 'job_id_pattern': {m}",
                at("job_id_pattern")
            ))
        })?;
        let vanished = cfg.str_list("vanished_patterns")?;
        s.rewrite_native = rewrite_native;
        table.extend(std::mem::take(&mut s.overrides));
        s.overrides = table;
        Ok(Templated {
            name,
            submit,
            script_input,
            job_id,
            monitor,
            kill,
            signal,
            vanished,
        })
    }
}

/// The program of an argument vector, for messages.
fn program(argv: &[String]) -> String {
    argv.first().cloned().unwrap_or_default()
}

impl Templated {
    /// The values of a command about `job`.
    fn job_values<'a>(job: &'a Job<'a>, path: &'a str) -> Values<'a> {
        Values {
            script: Some(path),
            jobid: Some(job.jid),
            user: job.user,
            ..Default::default()
        }
    }
}

/// The configuration names no status query: its jobs' states are UNKNOWN.
impl StateQueries for Templated {}

impl Recovery for Templated {}

impl super::queues::QueueQueries for Templated {}

impl Scheduler for Templated {
    fn names(&self) -> Submission<'_> {
        Submission {
            failed: "Submission failed",
            command: "submit_command",
            query: "monitor_command",
        }
    }

    fn submit_argv(&self, to: &ToSubmit) -> Result<Vec<String>> {
        let out_text = to.output.display().to_string();
        let values = Values {
            script: Some(to.script),
            output: Some(&out_text),
            user: to.user,
            ..Default::default()
        };
        self.submit.render(&self.name, &values)
    }

    fn script_input(&self) -> ScriptInput {
        self.script_input
    }

    fn places_script(&self) -> bool {
        self.submit.uses(Var::Script)
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        self.job_id.find(stdout)
    }

    /// The submit command's own words: its program, its standard error, and
    /// the site's `job_id_pattern` when no id was found.
    fn read_submission(&self, out: &Outcome, script: &Path, argv: &[String]) -> Result<Option<String>> {
        if out.dryrun {
            return Ok(None);
        }
        let program = program(argv);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.success() {
            crate::error!(
                "{program} stdout for script {}:\n{}",
                script.display(),
                stdout.trim_end()
            );
            crate::error!(
                "{program} stderr for script {}:\n{}",
                script.display(),
                stderr.trim_end()
            );
            return Err(Error::run(format!(
                "Submission failed with {}: {}",
                out.describe(),
                stderr.trim()
            )));
        }
        match self.job_id.find(&stdout) {
            Some(id) => {
                crate::debug!("Job ID: {id}");
                Ok(Some(id))
            }
            None => Err(Error::Uncertain(format!(
                "Could not find the job id in the {program} output {} (job_id_pattern of site '{}': {}); the job may have been submitted: check before submitting again",
                quote(stdout.trim()),
                self.name,
                quote(&format!("{}{{jobid}}{}", self.job_id.before, self.job_id.after))
            ))),
        }
    }

    fn status_argv(&self, job: &Job) -> Result<Vec<String>> {
        let path = job.script.display().to_string();
        self.monitor.render(&self.name, &Self::job_values(job, &path))
    }

    fn status_name(&self, argv: &[String]) -> String {
        program(argv)
    }

    fn cancel_argv(&self, job: &Job) -> Result<Vec<String>> {
        let path = job.script.display().to_string();
        self.kill.render(&self.name, &Self::job_values(job, &path))
    }

    fn can_signal(&self) -> bool {
        self.signal.is_some()
    }

    fn signal_argv(&self, job: &Job, sig: Signal) -> Result<Vec<String>> {
        let Some(signal) = &self.signal else {
            return self.cancel_argv(job);
        };
        let path = job.script.display().to_string();
        let values = Values {
            signal: Some((sig as i32).to_string()),
            signal_name: Some(sig.as_str().trim_start_matches("SIG")),
            ..Self::job_values(job, &path)
        };
        signal.render(&self.name, &values)
    }

    fn gone(&self, out: &Outcome, _by: KillCommand) -> bool {
        let t = out.text();
        self.vanished.iter().any(|p| t.contains(p.as_str()))
    }

    fn kill_failed(&self, out: &Outcome, _by: KillCommand, argv: &[String]) -> Error {
        command_failed(argv.first().map(String::as_str).unwrap_or(""), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            parse_word("-j{jobid}.x").unwrap(),
            vec![Piece::Lit("-j".into()), Piece::Var(Var::JobId), Piece::Lit(".x".into())]
        );
        assert_eq!(
            parse_word("{{id}} {{status}}").unwrap(),
            vec![Piece::Lit("{id} {status}".into())]
        );
        assert_eq!(parse_word("").unwrap(), vec![Piece::Lit(String::new())]);
        assert!(parse_word("{nope}")
            .unwrap_err()
            .contains("unknown placeholder '{nope}'"));
        assert!(parse_word("{jobid").unwrap_err().contains("unclosed"));
        assert!(parse_word("a}b").unwrap_err().contains("single '}'"));
    }

    fn site(yaml: &str) -> Result<Template> {
        let cfg = SiteConfig::from_yaml("t", yaml).unwrap();
        Template::from_config(&cfg, "monitor_command", &[Var::JobId, Var::User]).map(Option::unwrap)
    }

    #[test]
    fn templates_render() {
        let t = site("monitor_command: [squeue, [-u, '{user}'], -j, '{jobid}']\n").unwrap();
        let v = Values {
            jobid: Some("12"),
            ..Default::default()
        };
        assert_eq!(t.render("t", &v).unwrap(), vec!["squeue", "-j", "12"]);
        let v = Values {
            jobid: Some("12"),
            user: Some("bob"),
            ..Default::default()
        };
        assert_eq!(t.render("t", &v).unwrap(), vec!["squeue", "-u", "bob", "-j", "12"]);
        let bare = site("monitor_command: [squeue, -u, '{user}']\n").unwrap();
        let e = bare.render("t", &Values::default()).unwrap_err().to_string();
        assert!(e.contains("pass -u USER"), "{e}");
    }

    #[test]
    fn template_errors() {
        let e = site("monitor_command: [squeue, '{signal}']\n").unwrap_err().to_string();
        assert!(e.contains("cannot be used in this command"), "{e}");
        assert!(e.contains("<inline>:1:"), "{e}");
        let e = site("monitor_command: [['-u', '{user}'], squeue]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the first item must be the program"), "{e}");
        let e = site("monitor_command: {a: b}\n").unwrap_err().to_string();
        assert!(e.contains("expected a string"), "{e}");
    }

    #[test]
    fn job_id_patterns() {
        let p = JobIdPattern::parse("Submitted batch job {jobid}").unwrap();
        assert_eq!(p.find("Submitted batch job 42\n").as_deref(), Some("42"));
        assert_eq!(
            p.find("warning\nSubmitted batch job 42 on cluster x\n").as_deref(),
            Some("42")
        );
        assert_eq!(p.find("Submitted batch job \n"), None);
        let lsf = JobIdPattern::parse("Job <{jobid}> is submitted").unwrap();
        assert_eq!(
            lsf.find("Job <1234> is submitted to queue <normal>.\n").as_deref(),
            Some("1234")
        );
        let any = JobIdPattern::parse("{jobid}").unwrap();
        assert_eq!(any.find("\n  ƒ2Lq3B5eZ\n").as_deref(), Some("ƒ2Lq3B5eZ"));
        let suffix = JobIdPattern::parse("{jobid}.server").unwrap();
        assert_eq!(suffix.find("12.server\n").as_deref(), Some("12"));
        assert!(JobIdPattern::parse("no id").is_err());
        assert!(JobIdPattern::parse("{jobid} {jobid}").is_err());
    }
}
