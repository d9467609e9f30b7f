//! Foreign directives: the native lines of another scheduler (`#PBS` in a
//! script sent to Slurm), read through that scheduler's table of options
//! ([`Foreign`], one per scheduler, in its file under `src/site/`) into
//! generic directives. The same reading serves the front ends
//! (`troika qsub`, `troika sbatch`), whose command-line options are the
//! words of one long line.
//!
//! What differs per scheduler is only its table; how option words are read
//! is written here once: short options with their value apart (`-N x`) or
//! attached (`-Nx`), long options with `=` or apart (`--time=1:00`,
//! `--time 1:00`), words in single or double quotes, and resource lists
//! (`-l walltime=1:00:00,select=1:ncpus=2`) looked up in the table's
//! resources.

/// What an option is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// Nothing (`-h`, `--exclusive`); a long option may still be given a
    /// value with `=` (`--exclusive=user`).
    Nothing,
    /// One value, apart or attached.
    Value,
    /// Two values, apart (Grid Engine's `-pe NAME N`); the conversion sees
    /// them joined by a blank.
    Two,
}

/// A conversion of a value to generic directives, or why there is none.
pub type ConvFn = fn(&str) -> std::result::Result<Vec<(&'static str, String)>, String>;

/// How an option (or a resource) becomes generic directives.
#[derive(Clone, Copy, Debug)]
pub enum Conv {
    /// The generic directive of this name, with the value as given.
    To(&'static str),
    /// The generic directive of this name with this value (an option that
    /// takes nothing); a long option given `=value` sets the value given.
    Flag(&'static str, &'static str),
    /// Computed from the value; `doc` says how, for the documentation.
    Func(ConvFn, &'static str),
    /// A list of `key=value` resources separated by commas, each looked up
    /// in the table's resources.
    Resources,
    /// The job's output file: troika sets it from `-o`, so in a script it
    /// is dropped; on a front end's command line it is the output file.
    Output,
    /// Read and dropped, for the reason given (nothing to translate).
    Ignore(&'static str),
}

/// One option of a scheduler: its spellings (`-J`, `--job-name`), what it
/// takes and how it converts.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    pub names: &'static [&'static str],
    pub takes: Takes,
    pub conv: Conv,
}

impl Opt {
    /// An option whose value is the generic directive `name`.
    pub const fn to(names: &'static [&'static str], name: &'static str) -> Opt {
        Opt {
            names,
            takes: Takes::Value,
            conv: Conv::To(name),
        }
    }

    /// An option that takes nothing and sets `name` to `value`.
    pub const fn flag(names: &'static [&'static str], name: &'static str, value: &'static str) -> Opt {
        Opt {
            names,
            takes: Takes::Nothing,
            conv: Conv::Flag(name, value),
        }
    }

    /// An option whose value is converted by `f`, `doc` saying how.
    pub const fn func(names: &'static [&'static str], f: ConvFn, doc: &'static str) -> Opt {
        Opt {
            names,
            takes: Takes::Value,
            conv: Conv::Func(f, doc),
        }
    }

    /// An option of this kind.
    pub const fn new(names: &'static [&'static str], takes: Takes, conv: Conv) -> Opt {
        Opt { names, takes, conv }
    }
}

/// One resource of a resource list (`walltime` of `-l walltime=1:00:00`).
#[derive(Clone, Copy, Debug)]
pub struct Res {
    pub key: &'static str,
    /// `Conv::To`, `Conv::Func` or `Conv::Ignore`.
    pub conv: Conv,
}

/// A scheduler's options as troika reads them in a foreign script.
#[derive(Clone, Copy, Debug)]
pub struct Foreign {
    /// The scheduler, for messages and the docs (`PBS`).
    pub scheduler: &'static str,
    /// The word after `#` of its lines (`PBS`, `$`, `flux:`).
    pub prefix: &'static str,
    /// The variable of an array task's index that its scripts read
    /// (`PBS_ARRAY_INDEX`): set for them too where they run elsewhere.
    pub array_index: Option<&'static str>,
    /// Options it shares with related schedulers (the qsub family's),
    /// after its own.
    pub shared: &'static [Opt],
    pub options: &'static [Opt],
    pub resources: &'static [Res],
}

impl Foreign {
    /// Its options: its own, then the shared ones.
    pub fn all_options(&self) -> impl Iterator<Item = &'static Opt> {
        self.options.iter().chain(self.shared)
    }
}

/// What one option of a line (or of a command line) became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A generic directive.
    Set(&'static str, String),
    /// The output file (`-o`).
    Output(String),
    /// Read and dropped on purpose.
    Dropped,
    /// No translation: the option as written (`-W x=y`) and why.
    Untranslated { text: String, why: String },
}

/// Splits the text of a line into words: blanks separate them, single and
/// double quotes group them (and are removed), a backslash in double quotes
/// or outside quotes takes the next character as it is; a word that starts
/// with `#` starts a comment, which ends the words.
pub fn words(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("a single quote is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("a double quote is not closed".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("a double quote is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// The option of `tables` spelt `name` exactly.
fn find<'t>(tables: &[&'t Foreign], name: &str) -> Option<&'t Opt> {
    tables
        .iter()
        .flat_map(|t| t.all_options())
        .find(|o| o.names.contains(&name))
}

/// The option of `tables` that `word` starts with, its value attached:
/// `-N2` (a one-letter short option that takes a value).
fn find_attached<'t>(tables: &[&'t Foreign], word: &str) -> Option<(&'t Opt, String)> {
    let head = word.get(..2)?;
    let opt = find(tables, head)?;
    (opt.takes == Takes::Value && !word.starts_with("--")).then(|| (opt, word[2..].to_string()))
}

/// Reads option words with `tables` (all of one prefix, the first table
/// that knows an option winning). Every option read gives one or more
/// items; a word that is no option of the tables gives an
/// [`Item::Untranslated`] and so does an option missing its value. Words
/// that are no options (`job.sh`) stop the reading when `stop_at_operand`
/// (a command line) and are returned as the rest.
pub fn read_options(tables: &[&Foreign], words: &[String], stop_at_operand: bool) -> (Vec<Item>, Vec<String>) {
    let mut items = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if !word.starts_with('-') || word == "-" {
            if stop_at_operand {
                return (items, words[i - 1..].to_vec());
            }
            items.push(Item::Untranslated {
                text: word.clone(),
                why: "not an option".into(),
            });
            continue;
        }
        if word == "--" && stop_at_operand {
            return (items, words[i..].to_vec());
        }
        // The option, and its value when attached.
        let (opt, mut attached, name) = if let Some(o) = find(tables, word) {
            (o, None, word.clone())
        } else if let Some((n, v)) = word.split_once('=').filter(|_| word.starts_with("--")) {
            match find(tables, n) {
                Some(o) => (o, Some(v.to_string()), n.to_string()),
                None => {
                    items.push(unknown(word.clone()));
                    continue;
                }
            }
        } else if let Some((o, v)) = find_attached(tables, word) {
            (o, Some(v), word[..2].to_string())
        } else {
            // In a script, a word that follows an unknown option is taken
            // for its value, so that the message shows both (`-W x=y`).
            match words.get(i).filter(|w| !stop_at_operand && !w.starts_with('-')) {
                Some(next) => {
                    items.push(unknown(format!("{word} {next}")));
                    i += 1;
                }
                None => items.push(unknown(word.clone())),
            }
            continue;
        };
        let value = match (opt.takes, attached.take()) {
            (Takes::Nothing, v) => v,
            (Takes::Value, Some(v)) => Some(v),
            (Takes::Value, None) => match words.get(i) {
                Some(v) => {
                    i += 1;
                    Some(v.clone())
                }
                None => {
                    items.push(Item::Untranslated {
                        text: name,
                        why: "its value is missing".into(),
                    });
                    continue;
                }
            },
            (Takes::Two, first) => {
                let mut parts: Vec<String> = first.into_iter().collect();
                while parts.len() < 2 && i < words.len() {
                    parts.push(words[i].clone());
                    i += 1;
                }
                if parts.len() < 2 {
                    items.push(Item::Untranslated {
                        text: name,
                        why: "it takes two values".into(),
                    });
                    continue;
                }
                Some(parts.join(" "))
            }
        };
        let text = match &value {
            Some(v) if opt.takes == Takes::Nothing => format!("{name}={v}"),
            Some(v) => format!("{name} {v}"),
            None => name.clone(),
        };
        convert(tables, &opt.conv, value.as_deref(), &text, &mut items);
    }
    (items, vec![])
}

fn unknown(text: String) -> Item {
    Item::Untranslated {
        text,
        why: "an option troika does not translate".into(),
    }
}

/// Converts one option's value by `conv`.
fn convert(tables: &[&Foreign], conv: &Conv, value: Option<&str>, text: &str, items: &mut Vec<Item>) {
    let value_or = |d: &'static str| value.unwrap_or(d).to_string();
    match conv {
        Conv::To(name) => items.push(Item::Set(name, value_or(""))),
        Conv::Flag(name, v) => items.push(Item::Set(name, value_or(v))),
        Conv::Func(f, _) => match f(value.unwrap_or("")) {
            Ok(pairs) if pairs.is_empty() => items.push(Item::Dropped),
            Ok(pairs) => items.extend(pairs.into_iter().map(|(n, v)| Item::Set(n, v))),
            Err(why) => items.push(Item::Untranslated {
                text: text.to_string(),
                why,
            }),
        },
        Conv::Output => items.push(Item::Output(value_or(""))),
        Conv::Ignore(_) => items.push(Item::Dropped),
        Conv::Resources => {
            for res in split_resources(value.unwrap_or("")) {
                let (key, v) = res.split_once('=').unwrap_or((res, ""));
                let found = tables.iter().flat_map(|t| t.resources.iter()).find(|r| r.key == key);
                let flag = text.split(' ').next().unwrap_or("");
                match found {
                    Some(r) => convert(tables, &r.conv, Some(v), &format!("{flag} {res}"), items),
                    None => items.push(Item::Untranslated {
                        text: format!("{flag} {res}"),
                        why: format!("the resource {} is not translated", crate::util::quote(key)),
                    }),
                }
            }
        }
    }
}

/// The items of a resource list: split at commas, except inside brackets
/// or quotes.
fn split_resources(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in v.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// A foreign line of a script: its number and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub text: Vec<u8>,
}

/// If `line` is a directive line of one of `prefixes` (`#`, blanks, the
/// prefix, a blank, options), the index of the prefix and the options.
pub fn prefix_of<'l>(line: &'l [u8], prefixes: &[&str]) -> Option<(usize, &'l [u8])> {
    let rest = line.strip_prefix(b"#")?;
    let n = rest.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
    let rest = &rest[n..];
    prefixes.iter().enumerate().find_map(|(i, p)| {
        let after = rest.strip_prefix(p.as_bytes())?;
        let first = *after.first()?;
        (first == b' ' || first == b'\t').then_some((i, &after[1..]))
    })
}

/// What the foreign lines of a script gave.
#[derive(Debug, Default)]
pub struct Read {
    /// Generic directives, in line order (a later one replaces an earlier).
    pub directives: Vec<(&'static str, String)>,
    /// What has no translation, as messages.
    pub untranslated: Vec<String>,
    /// The lines as they go into the generated script: comments that no
    /// scheduler reads.
    pub comments: Vec<Vec<u8>>,
    /// The variables of a task's index of the schedulers whose lines were
    /// read (`PBS_ARRAY_INDEX` for `#PBS`), which the script may use.
    pub index_vars: Vec<&'static str>,
}

/// Reads foreign `lines` with `tables` (each line by the tables of its
/// prefix); `target` names the site type in messages.
pub fn read_lines(lines: &[Line], tables: &[&Foreign], target: &str) -> Read {
    let prefixes: Vec<&str> = tables.iter().map(|t| t.prefix).collect();
    let mut out = Read::default();
    for line in lines {
        let text = line.text.strip_suffix(b"\n").unwrap_or(&line.text);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let shown = String::from_utf8_lossy(text);
        let Some((i, options)) = prefix_of(text, &prefixes) else {
            continue;
        };
        let prefix = tables[i].prefix;
        let same: Vec<&Foreign> = tables.iter().copied().filter(|t| t.prefix == prefix).collect();
        for var in same.iter().filter_map(|t| t.array_index) {
            if !out.index_vars.contains(&var) {
                out.index_vars.push(var);
            }
        }
        let mut clean = true;
        let mut report = |what: &str, why: &str| {
            out.untranslated.push(format!(
                "Foreign directive '#{prefix} {what}' (line {}) has no translation to {target}: {why}",
                line.number
            ));
        };
        match std::str::from_utf8(options)
            .map_err(|_| "it is not UTF-8 text".to_string())
            .and_then(words)
        {
            Err(why) => {
                clean = false;
                report(shown.trim_start_matches('#').trim_start(), &why);
            }
            Ok(ws) => {
                for item in read_options(&same, &ws, false).0 {
                    match item {
                        Item::Set(n, v) => out.directives.push((n, v)),
                        Item::Output(_) | Item::Dropped => {}
                        Item::Untranslated { text, why } => {
                            clean = false;
                            report(&text, &why);
                        }
                    }
                }
            }
        }
        let tag = if clean { "translated" } else { "not translated" };
        let rest = shown.trim_start_matches('#').trim_start();
        out.comments.push(format!("# (troika: {tag}) {rest}\n").into_bytes());
    }
    out
}

/// A wall-clock limit in a foreign form (already read to seconds) as the
/// generic form `HH:MM:SS`.
pub fn walltime(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A wall-clock limit in any form the units library reads, as `HH:MM:SS`.
pub fn generic_walltime(v: &str) -> std::result::Result<Vec<(&'static str, String)>, String> {
    let secs = crate::site::units::parse_walltime(v)?;
    Ok(vec![("walltime", walltime(secs))])
}

/// A size in KiB as the generic form (`4G`, `1536M`).
pub fn memory(kib: u64) -> std::result::Result<String, String> {
    crate::site::units::generic_memory(kib)
}

/// A memory size in any form the units library reads (plain numbers are
/// megabytes), as the generic directive `name`.
pub fn generic_memory(name: &'static str, v: &str) -> std::result::Result<Vec<(&'static str, String)>, String> {
    let kib = crate::site::units::parse_memory(v)?;
    Ok(vec![(name, memory(kib)?)])
}

/// A whole number, or why not.
pub fn count(v: &str, what: &str) -> std::result::Result<u64, String> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| format!("{what} {} is not a whole number", crate::util::quote(v)))
}

/// A dependency in the generic form (`afterok:1:2,afterany:3`), checked.
pub fn check_depends(v: &str) -> std::result::Result<String, String> {
    for group in v.split(',') {
        let mut parts = group.split(':');
        let kind = parts.next().unwrap_or("");
        if !matches!(kind, "afterok" | "afterany" | "afternotok") {
            return Err(format!(
                "the dependency type {} is not one of afterok, afterany, afternotok",
                crate::util::quote(kind)
            ));
        }
        let ids: Vec<&str> = parts.collect();
        if ids.is_empty() || ids.iter().any(|id| id.is_empty()) {
            return Err(format!("the dependency {} names no job", crate::util::quote(group)));
        }
    }
    Ok(v.to_string())
}

/// An array range in the generic form (`1-100`, `1-100:2`, `1-100%10`,
/// `1,3,5`), checked.
pub fn check_array(v: &str) -> std::result::Result<String, String> {
    let ok = !v.is_empty()
        && v.bytes().all(|c| c.is_ascii_digit() || b"-:%,".contains(&c))
        && v.as_bytes()[0].is_ascii_digit();
    match ok {
        true => Ok(v.to_string()),
        false => Err(format!(
            "the array {} is not of the form 1-100[:2][%10] or 1,3,5",
            crate::util::quote(v)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    fn res_walltime(v: &str) -> std::result::Result<Vec<(&'static str, String)>, String> {
        generic_walltime(v)
    }

    const T: Foreign = Foreign {
        scheduler: "T",
        prefix: "T",
        array_index: None,
        shared: &[],
        options: &[
            Opt::to(&["-N", "--name"], "name"),
            Opt::flag(&["-h", "--hold"], "hold", "true"),
            Opt::new(&["-l"], Takes::Value, Conv::Resources),
            Opt::new(
                &["-pe"],
                Takes::Two,
                Conv::Func(
                    |v| Ok(vec![("total_tasks", v.split(' ').nth(1).unwrap_or("").into())]),
                    "",
                ),
            ),
            Opt::new(&["-o"], Takes::Value, Conv::Output),
            Opt::flag(&["--exclusive"], "exclusive", "true"),
        ],
        resources: &[Res {
            key: "walltime",
            conv: Conv::Func(res_walltime, ""),
        }],
    };

    #[test]
    fn words_quotes_and_comments() {
        assert_eq!(
            words(r#"-N "a b" -l 'x,y' c\ d # comment"#).unwrap(),
            v(&["-N", "a b", "-l", "x,y", "c d"])
        );
        assert_eq!(words("-R \"span[ptile=4]\"").unwrap(), v(&["-R", "span[ptile=4]"]));
        assert!(words("-N 'x").is_err());
        assert_eq!(words("  ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn option_forms() {
        let (items, rest) = read_options(
            &[&T],
            &v(&[
                "-Nx",
                "--name=y",
                "--name",
                "z",
                "-h",
                "-l",
                "walltime=90,foo=1",
                "-pe",
                "smp",
                "4",
                "--exclusive=user",
                "-o",
                "out",
                "-W",
                "job.sh",
                "-N",
            ]),
            false,
        );
        assert!(rest.is_empty());
        let set = |n, v: &str| Item::Set(n, v.to_string());
        assert_eq!(
            &items[..4],
            &[
                set("name", "x"),
                set("name", "y"),
                set("name", "z"),
                set("hold", "true")
            ]
        );
        assert_eq!(items[4], set("walltime", "01:30:00"));
        assert!(matches!(&items[5], Item::Untranslated { text, .. } if text == "-l foo=1"));
        assert_eq!(items[6], set("total_tasks", "4"));
        assert_eq!(items[7], set("exclusive", "user"));
        assert_eq!(items[8], Item::Output("out".into()));
        assert!(matches!(&items[9], Item::Untranslated { text, .. } if text == "-W job.sh"));
        assert!(matches!(&items[10], Item::Untranslated { why, .. } if why.contains("missing")));
    }

    #[test]
    fn command_lines_stop_at_the_script() {
        let (items, rest) = read_options(&[&T], &v(&["-N", "x", "job.sh", "-h"]), true);
        assert_eq!(items, vec![Item::Set("name", "x".into())]);
        assert_eq!(rest, v(&["job.sh", "-h"]));
    }

    #[test]
    fn lines_become_comments_and_messages() {
        let lines = [
            Line {
                number: 3,
                text: b"#T -N x -l walltime=00:02:00\n".to_vec(),
            },
            Line {
                number: 4,
                text: b"# T -W x=y\n".to_vec(),
            },
        ];
        let r = read_lines(&lines, &[&T], "slurm");
        assert_eq!(
            r.directives,
            vec![("name", "x".to_string()), ("walltime", "00:02:00".to_string())]
        );
        assert_eq!(
            r.untranslated,
            vec!["Foreign directive '#T -W x=y' (line 4) has no translation to slurm: an option troika does not translate"]
        );
        assert_eq!(r.comments[0], b"# (troika: translated) T -N x -l walltime=00:02:00\n");
        assert_eq!(r.comments[1], b"# (troika: not translated) T -W x=y\n");
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of(b"#PBS -N x", &["SBATCH", "PBS"]), Some((1, &b"-N x"[..])));
        assert_eq!(prefix_of(b"# $ -N x", &["$"]), Some((0, &b"-N x"[..])));
        assert_eq!(prefix_of(b"# $HOME", &["$"]), None);
        assert_eq!(prefix_of(b"#PBSX -N", &["PBS"]), None);
    }

    #[test]
    fn checks() {
        assert!(check_depends("afterok:1:2,afterany:3").is_ok());
        assert!(check_depends("after:1").is_err());
        assert!(check_depends("afterok").is_err());
        assert!(check_array("1-100:2%10").is_ok());
        assert!(check_array("a").is_err());
        assert_eq!(walltime(3723), "01:02:03");
        assert_eq!(walltime(100 * 3600), "100:00:00");
    }

    /// What the options of `line` become with `tables`: the directives, and
    /// the options without translation.
    fn read(tables: &[&Foreign], line: &str) -> (Vec<(String, String)>, Vec<String>) {
        let (items, _) = read_options(tables, &words(line).unwrap(), false);
        let mut set = vec![];
        let mut not = vec![];
        for i in items {
            match i {
                Item::Set(n, v) => set.push((n.to_string(), v)),
                Item::Untranslated { text, .. } => not.push(text),
                _ => {}
            }
        }
        (set, not)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn pbs_and_torque_lines() {
        use crate::site::{pbs, torque};
        let t = [&pbs::FOREIGN, &torque::FOREIGN];
        let (set, not) = read(
            &t,
            "-N x -l walltime=1:00:00,select=2:ncpus=8:mpiprocs=4:mem=4gb -l place=scatter:excl -j oe -m ae -W depend=afterok:1.s:2.s -J 1-10:2 -h -V",
        );
        assert_eq!(
            set,
            pairs(&[
                ("name", "x"),
                ("walltime", "01:00:00"),
                ("total_nodes", "2"),
                ("memory_per_node", "4G"),
                ("tasks_per_node", "4"),
                ("cpus_per_task", "2"),
                ("exclusive", "true"),
                ("join_output_error", "true"),
                ("mail_type", "fail,end"),
                ("depends_on", "afterok:1.s:2.s"),
                ("array", "1-10:2"),
                ("hold", "true"),
                ("export_vars", "all"),
            ])
        );
        assert!(not.is_empty(), "{not:?}");
        let (set, not) = read(
            &t,
            "-l nodes=2:ppn=4,pmem=1gb -d /w -t 1-5 -W group_list=g -r n -l select=1:ncpus=2+1:ncpus=4",
        );
        assert_eq!(
            set,
            pairs(&[
                ("total_nodes", "2"),
                ("tasks_per_node", "4"),
                ("memory_per_cpu", "1G"),
                ("working_dir", "/w"),
                ("array", "1-5")
            ])
        );
        assert_eq!(not, ["-W group_list=g", "-r n", "-l select=1:ncpus=2+1:ncpus=4"]);
    }

    #[test]
    fn grid_engine_lines() {
        let t = [&crate::site::sge::FOREIGN];
        let (set, not) = read(
            &t,
            "-N x -l h_rt=3600,h_vmem=2G -pe smp 4 -cwd -j y -t 1-10:2 -hold_jid 5,6 -P proj -b y",
        );
        assert_eq!(
            set,
            pairs(&[
                ("name", "x"),
                ("walltime", "01:00:00"),
                ("memory_per_cpu", "2G"),
                ("total_tasks", "4"),
                ("join_output_error", "true"),
                ("array", "1-10:2"),
                ("depends_on", "afterany:5:6"),
                ("billing_account", "proj"),
            ])
        );
        assert_eq!(not, ["-b y"]);
        assert_eq!(read(&t, "-l h_rt=0:10:00").0, pairs(&[("walltime", "00:10:00")]));
        assert_eq!(read(&t, "-hold_jid name").1, ["-hold_jid name"]);
    }

    #[test]
    fn lsf_lines() {
        let t = [&crate::site::lsf::FOREIGN];
        let (set, not) = read(
            &t,
            r#"-J arr[1-5]%2 -W 1:30 -n 8 -R "span[ptile=4]" -M 4096 -q q -w "done(12) && ended(13) && done(14)" -gpu "num=2:mode=shared" -x -H"#,
        );
        assert_eq!(
            set,
            pairs(&[
                ("name", "arr"),
                ("array", "1-5%2"),
                ("walltime", "01:30:00"),
                ("total_tasks", "8"),
                ("tasks_per_node", "4"),
                ("memory_per_node", "4M"),
                ("queue", "q"),
                ("depends_on", "afterok:12:14,afterany:13"),
                ("gpus_per_node", "2"),
                ("exclusive", "true"),
                ("hold", "true"),
            ])
        );
        assert!(not.is_empty(), "{not:?}");
        assert_eq!(
            read(&t, "-W 45 -M 2GB").0,
            pairs(&[("walltime", "00:45:00"), ("memory_per_node", "2G")])
        );
        assert_eq!(read(&t, r#"-R "rusage[mem=100]" -w "post_done(1)""#).1.len(), 2);
    }

    #[test]
    fn flux_and_slurm_lines() {
        let t = [&crate::site::flux::FOREIGN];
        let (set, _) = read(
            &t,
            "-N2 -n 8 -t 1.5h --job-name=x --urgency=hold --dependency=afterok:f1",
        );
        assert_eq!(
            set,
            pairs(&[
                ("total_nodes", "2"),
                ("total_tasks", "8"),
                ("walltime", "01:30:00"),
                ("name", "x"),
                ("hold", "true"),
                ("depends_on", "afterok:f1"),
            ])
        );
        assert_eq!(read(&t, "-t 90").0, pairs(&[("walltime", "00:01:30")]));
        let t = [&crate::site::slurm::FOREIGN];
        let (set, not) = read(
            &t,
            "-J x --time=1-00:00:00 -N 2-4 --mem 4000 --mail-type=ALL --export=NONE --exclusive -a 1-5%2 -d afterok:1:2,afterany:3 --signal=USR1@60",
        );
        assert_eq!(
            set,
            pairs(&[
                ("name", "x"),
                ("walltime", "24:00:00"),
                ("memory_per_node", "4000M"),
                ("mail_type", "begin,end,fail"),
                ("export_vars", "none"),
                ("exclusive", "true"),
                ("array", "1-5%2"),
                ("depends_on", "afterok:1:2,afterany:3"),
            ])
        );
        assert_eq!(not, ["-N 2-4", "--signal=USR1@60"]);
        assert_eq!(read(&t, "-d singleton").1, ["-d singleton"]);
    }
}
