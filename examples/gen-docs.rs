//! Writes troika's man pages and shell completions into OUTDIR, generated
//! from the command-line definition (`troika::command()`, the clap command the
//! binary parses with) and from docs/configuration.md, so that they cannot
//! drift from the code or from the reference:
//!
//! ```sh
//! cargo run --release --example gen-docs -- OUTDIR
//! ```
//!
//! - `OUTDIR/man1/troika.1` and one page per action, `troika-submit.1`, ...
//! - `OUTDIR/man5/troika.yml.5`, from docs/configuration.md
//! - `OUTDIR/completions/troika.bash`, `_troika` (zsh), `troika.fish`
//!
//! The pages are dated by `SOURCE_DATE_EPOCH` when it is set (scripts/package.sh
//! sets it to the time of the last commit, so a rebuild makes the same files),
//! else today.
//!
//! scripts/package.sh runs it and puts the files in the packages. It is an
//! example, not part of the binary: clap_mangen and clap_complete are
//! dev-dependencies, and the `troika` binary stays as small and quick to start
//! as before.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

use clap_complete::Shell;

const SOURCE: &str = concat!("troika ", env!("CARGO_PKG_VERSION"));
const CONFIGURATION_MD: &str = include_str!("../docs/configuration.md");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: gen-docs OUTDIR  (writes OUTDIR/man1, OUTDIR/man5 and OUTDIR/completions)");
        return ExitCode::from(2);
    };
    match generate(Path::new(out)) {
        Ok(n) => {
            println!("gen-docs: wrote {n} files under {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-docs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path) -> Result<usize, String> {
    let man1 = out.join("man1");
    let man5 = out.join("man5");
    let completions = out.join("completions");
    for dir in [&man1, &man5, &completions] {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let write =
        |path: &Path, text: &[u8]| fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()));
    let mut written = 0;

    let mut cmd = troika::command();
    cmd.build();
    let actions: Vec<clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned().collect();

    // troika(1): the clap page, then where the configuration comes from and
    // the other pages.
    let mut page = render(cmd.clone())?;
    page.push_str(FILES_SECTION);
    let mut see_also: Vec<String> = actions.iter().map(|a| format!("{}(1)", display_name(a))).collect();
    see_also.push("troika.yml(5)".into());
    page.push_str(&see_also_section(&see_also));
    write(&man1.join("troika.1"), page.as_bytes())?;
    written += 1;

    // troika-ACTION(1)
    for action in &actions {
        let name = display_name(action);
        let mut page = render(action.clone())?;
        page.push_str(&see_also_section(&["troika(1)".into(), "troika.yml(5)".into()]));
        write(&man1.join(format!("{name}.1")), page.as_bytes())?;
        written += 1;
    }

    // troika.yml(5)
    write(&man5.join("troika.yml.5"), markdown_to_man(CONFIGURATION_MD).as_bytes())?;
    written += 1;

    // Completions, for `troika` (not for the troika-qsub and troika-sbatch
    // links, whose options are the schedulers').
    for (shell, file) in [
        (Shell::Bash, "troika.bash"),
        (Shell::Zsh, "_troika"),
        (Shell::Fish, "troika.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut troika::command(), "troika", &mut buf);
        write(&completions.join(file), &buf)?;
        written += 1;
    }
    Ok(written)
}

fn display_name(cmd: &clap::Command) -> String {
    cmd.get_display_name().unwrap_or(cmd.get_name()).to_string()
}

/// `SOURCE_DATE_EPOCH`, else now, as YYYY-MM-DD (UTC).
fn page_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn render(cmd: clap::Command) -> Result<String, String> {
    let name = display_name(&cmd);
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .date(page_date())
        .source(SOURCE)
        .manual("troika manual")
        .render(&mut buf)
        .map_err(|e| format!("cannot render the page of {name}: {e}"))?;
    String::from_utf8(buf).map_err(|e| format!("the page of {name} is not UTF-8: {e}"))
}

fn see_also_section(pages: &[String]) -> String {
    let refs: Vec<String> = pages
        .iter()
        .map(|p| {
            let (name, section) = p.trim_end_matches(')').split_once('(').unwrap_or((p, ""));
            format!("\\fB{}\\fR({section})", escape(name))
        })
        .collect();
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(",\n"))
}

const FILES_SECTION: &str = r#".SH FILES
The configuration is the first of:
.IP 1. 4
the file given with \fB\-c\fR;
.IP 2. 4
the file named by the environment variable \fBTROIKA_CONFIG_FILE\fR (set but empty is an error);
.IP 3. 4
\fI<prefix>\fR\fB/etc/troika.yml\fR, where \fI<prefix>\fR is the directory above the one holding the \fBtroika\fR binary (\fB/usr/bin/troika\fR reads \fB/usr/etc/troika.yml\fR, which the packages link to \fB/etc/troika.yml\fR);
.IP 4. 4
a built\-in configuration with the single site \fBlocalhost\fR.
.PP
Its format is described in \fBtroika.yml\fR(5).
"#;

/// Escapes text for roff: backslashes, and a leading `.` or `'` that would
/// read as a request.
fn escape(text: &str) -> String {
    let t = text.replace('\\', "\\e");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// A Markdown line's inline markup in roff: `code` in bold (hyphens as
/// minus signs, as options are written), **strong** in bold, links as their
/// text.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("\\fB");
            out.push_str(&part.replace('\\', "\\e").replace('-', "\\-"));
            out.push_str("\\fR");
            continue;
        }
        let mut s = part.replace('\\', "\\e");
        // Links: [text](target) -> text
        while let Some(open) = s.find('[') {
            let Some(close) = s[open..].find("](").map(|c| open + c) else {
                break;
            };
            let Some(end) = s[close..].find(')').map(|c| close + c) else {
                break;
            };
            s = format!("{}{}{}", &s[..open], &s[open + 1..close], &s[end + 1..]);
        }
        let mut bold = false;
        while let Some(i) = s.find("**") {
            s.replace_range(i..i + 2, if bold { "\\fR" } else { "\\fB" });
            bold = !bold;
        }
        out.push_str(&s);
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

fn cells(row: &str) -> Vec<String> {
    let row = row.trim().trim_start_matches('|').trim_end_matches('|');
    // A `|` inside a code span does not end a cell.
    let mut cells = vec![String::new()];
    let mut in_code = false;
    for c in row.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                cells.last_mut().unwrap().push(c);
            }
            '|' if !in_code => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
    }
    cells.iter().map(|c| inline(c.trim())).collect()
}

fn table(rows: &[&str], out: &mut String) {
    let header = cells(rows[0]);
    let body: Vec<Vec<String>> = rows.iter().skip(2).map(|r| cells(r)).collect();
    let n = header.len();
    let format = |bold: bool| {
        let mut f: Vec<&str> = vec![if bold { "lb" } else { "l" }; n];
        if !bold {
            f[n - 1] = "lx";
        }
        f.join(" ")
    };
    out.push_str(".PP\n.TS\ntab(\t);\n");
    let _ = writeln!(out, "{}", format(true));
    let _ = writeln!(out, "{}.", format(false));
    let block = |cells: &[String]| {
        let mut line: Vec<String> = cells.iter().map(|c| format!("T{{\n{c}\nT}}")).collect();
        line.resize(n, String::new());
        line.join("\t")
    };
    let _ = writeln!(out, "{}", block(&header));
    for row in &body {
        let _ = writeln!(out, "{}", block(row));
    }
    out.push_str(".TE\n");
}

/// docs/configuration.md as troika.yml(5): headings become sections, code
/// blocks stay verbatim, tables go through tbl, lists become indented
/// paragraphs. The table of contents (links within the page) is left out.
fn markdown_to_man(md: &str) -> String {
    let mut out = String::from("'\\\" t\n");
    let _ = writeln!(
        out,
        ".TH TROIKA.YML 5 \"{}\" \"{SOURCE}\" \"troika manual\"",
        page_date()
    );
    // Left-aligned, as the tables' narrow columns cannot be justified.
    out.push_str(".ad l\n");
    out.push_str(".SH NAME\ntroika.yml \\- the configuration file of troika\n");
    out.push_str(".SH DESCRIPTION\n");
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    let mut skipping = false;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if let Some(title) = line.strip_prefix("# ") {
            // The page's own title: NAME and DESCRIPTION stand for it.
            let _ = title;
            continue;
        }
        if let Some(title) = line.strip_prefix("## ") {
            skipping = title == "Contents";
            if !skipping {
                let _ = writeln!(out, ".SH \"{}\"", inline(title).replace('"', "\\(dq"));
            }
            continue;
        }
        if skipping {
            continue;
        }
        if let Some(title) = line.strip_prefix("### ") {
            let _ = writeln!(out, ".SS \"{}\"", inline(title).replace('"', "\\(dq"));
        } else if line.starts_with("```") {
            out.push_str(".PP\n.RS 4\n.nf\n");
            while i < lines.len() && !lines[i].starts_with("```") {
                let _ = writeln!(out, "{}", escape(lines[i]));
                i += 1;
            }
            i += 1;
            out.push_str(".fi\n.RE\n");
        } else if line.starts_with('|') {
            let start = i - 1;
            while i < lines.len() && lines[i].starts_with('|') {
                i += 1;
            }
            table(&lines[start..i], &mut out);
        } else if line.trim().is_empty() {
            out.push_str(".PP\n");
        } else if let Some(item) = line.strip_prefix("- ") {
            let _ = writeln!(out, ".IP \\(bu 2\n{}", inline(item));
        } else if let Some((num, item)) = line.split_once(". ").filter(|(n, _)| n.parse::<u32>().is_ok()) {
            let _ = writeln!(out, ".IP {num}. 4\n{}", inline(item));
        } else {
            let _ = writeln!(out, "{}", inline(line.trim_start()));
        }
    }
    out.push_str(".SH \"SEE ALSO\"\n\\fBtroika\\fR(1)\n.PP\n");
    out.push_str("This page is generated from docs/configuration.md of the troika sources, which has the pages of the other site types (docs/sites/).\n");
    out
}
