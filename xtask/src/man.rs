//! Manual pages: `cargo xtask man` writes `man/wsd.1` and `man/flowcache.1`.
//!
//! NAME, SYNOPSIS, DESCRIPTION, OPTIONS and VERSION come from the clap definitions
//! of the two commands through `clap_mangen`, so the pages list exactly the options
//! the binaries accept. The other sections (exit status, environment, files,
//! examples, see also) are written in `pages.rs` and appended as roff.
//! `cargo xtask man --check` writes nothing and fails if a committed page differs
//! from what would be written, so CI catches an option changed without its page.

mod pages;

use std::fs;
use std::io;
use std::path::Path;

use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;

use crate::workspace_root;

/// Directory of the pages, relative to the workspace root.
const MAN_DIR: &str = "man";

/// One manual page: the clap definition and the text added to it.
pub struct Page {
    /// The file name under `man/`, such as `wsd.1`.
    file_name: &'static str,
    /// The command whose options the page lists.
    command: clap::Command,
    /// Paragraphs appended to DESCRIPTION, after the about text of the command.
    description: &'static [Block],
    /// Sections after OPTIONS, in order.
    sections: &'static [Section],
}

/// A section of a page with a heading of its own.
pub struct Section {
    /// The heading, in capitals as man pages write them.
    heading: &'static str,
    /// The contents.
    blocks: &'static [Block],
}

/// A unit of text in a section.
///
/// Text uses two marks: `` `word` `` is set in bold (commands, options and
/// literal values) and `<word>` in italics (values the user replaces).
pub enum Block {
    /// A paragraph.
    Paragraph(&'static str),
    /// A term and its description, indented below it.
    Item(&'static str, &'static str),
    /// An explanation, then command lines shown as typed, one per line.
    Example(&'static str, &'static str),
}

/// Writes the pages, or with `--check`, compares them with the committed files.
pub fn run(args: &[String]) -> Result<(), String> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            return Err(format!(
                "unexpected arguments {args:?}; usage: cargo xtask man [--check]"
            ))
        }
    };
    let dir = workspace_root().join(MAN_DIR);
    let mut stale = Vec::new();
    for page in pages::all() {
        let path = dir.join(page.file_name);
        let text =
            render(&page).map_err(|err| format!("cannot render {}: {err}", page.file_name))?;
        if check {
            if fs::read(&path).ok().as_deref() != Some(text.as_slice()) {
                stale.push(format!("{MAN_DIR}/{}", page.file_name));
            }
        } else {
            fs::create_dir_all(&dir)
                .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
            write_if_changed(&path, &text)?;
        }
    }
    if !stale.is_empty() {
        return Err(format!(
            "{} out of date with the command-line definitions; run `cargo xtask man` and \
             commit the result",
            stale.join(" and ")
        ));
    }
    Ok(())
}

/// Writes `text` to `path` unless the file already contains it, so that an
/// unchanged page keeps its modification time.
fn write_if_changed(path: &Path, text: &[u8]) -> Result<(), String> {
    if fs::read(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    fs::write(path, text).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Renders one page as roff source.
fn render(page: &Page) -> io::Result<Vec<u8>> {
    let man = Man::new(page.command.clone());

    // Each render call of clap_mangen starts with the same two-line preamble;
    // the page keeps the first copy only.
    let mut out = Vec::new();
    Roff::new().to_writer(&mut out)?;
    out.extend_from_slice(title_line(&page.command).as_bytes());
    append_without_preamble(&mut out, |w| man.render_name_section(w))?;
    out.extend_from_slice(synopsis(&page.command).as_bytes());
    append_without_preamble(&mut out, |w| man.render_description_section(w))?;
    append_roff(&mut out, &blocks_roff(page.description))?;
    append_without_preamble(&mut out, |w| man.render_options_section(w))?;
    for section in page.sections {
        let mut roff = Roff::new();
        roff.control("SH", [section.heading]);
        append_roff(&mut out, &roff)?;
        append_roff(&mut out, &blocks_roff(section.blocks))?;
    }
    append_without_preamble(&mut out, |w| man.render_version_section(w))?;
    Ok(out)
}

/// Returns the SYNOPSIS section: each option by its short name, or its long
/// name when it has none, with the name of its value, then the operands.
/// `...` follows what may be given more than once. clap_mangen 0.2 writes the
/// options without their values and leaves out the `...`.
fn synopsis(command: &clap::Command) -> String {
    let escape = |text: &str| text.replace('-', "\\-");
    // Left-aligned, with an unbreakable space between an option and its value
    // and `\%` before each item against hyphenation, so that lines break only
    // between items. The page's own hyphenation setting stays as it was.
    let name = escape(command.get_name());
    let mut text = format!(".SH SYNOPSIS\n.ad l\n\\fB{name}\\fR");
    let repeated = |arg: &clap::Arg| matches!(arg.get_action(), clap::ArgAction::Append);
    // Building adds the help option, which clap makes on its own.
    let mut command = command.clone();
    command.build();
    let options = command
        .get_arguments()
        .filter(|arg| !arg.is_positional())
        .chain(command.get_positionals());
    for arg in options.filter(|arg| !arg.is_hide_set()) {
        let values = arg.get_value_names().unwrap_or_default();
        let item = if arg.is_positional() {
            let names: Vec<String> = values
                .iter()
                .map(|name| format!("\\fI{}\\fR", escape(name)))
                .collect();
            if arg.is_required_set() {
                format!("<{}>", names.join(" "))
            } else {
                format!("[{}]", names.join(" "))
            }
        } else {
            let name = match (arg.get_short(), arg.get_long()) {
                (Some(short), _) => format!("\\fB\\-{short}\\fR"),
                (None, Some(long)) => format!("\\fB\\-\\-{}\\fR", escape(long)),
                (None, None) => continue,
            };
            let takes_value = arg.get_action().takes_values();
            match values.first() {
                Some(value) if takes_value => format!("[{name}\\ \\fI{}\\fR]", escape(value)),
                _ => format!("[{name}]"),
            }
        };
        text.push_str(" \\%");
        text.push_str(&item);
        if repeated(arg) {
            text.push_str("...");
        }
    }
    text.push_str("\n.ad\n");
    text
}

/// Returns the `.TH` line: title, section 1, no date, source and manual.
///
/// clap_mangen 0.2 writes an empty date as no argument at all, which moves the
/// source and manual into the wrong fields, so the line is written here with the
/// empty date quoted. A date would change the page on every build, which the
/// check in CI cannot allow.
fn title_line(command: &clap::Command) -> String {
    let name = command.get_name();
    let version = command.get_version().unwrap_or_default();
    format!(
        ".TH {} 1 \"\" \"{name} {version}\" \"User Commands\"\n",
        name.to_uppercase()
    )
}

/// Appends what `render` writes, minus the preamble that defines the `Aq` string
/// for apostrophes: its lines start with `.ie \n(.g .ds Aq` and `.el .ds Aq`.
fn append_without_preamble(
    out: &mut Vec<u8>,
    render: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut section = Vec::new();
    render(&mut section)?;
    let text = String::from_utf8_lossy(&section);
    for line in text.lines() {
        if line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    Ok(())
}

/// Appends `roff` after the preamble that the page already has.
fn append_roff(out: &mut Vec<u8>, roff: &Roff) -> io::Result<()> {
    append_without_preamble(out, |w| roff.to_writer(w))
}

/// Converts blocks into roff paragraphs.
fn blocks_roff(blocks: &[Block]) -> Roff {
    let mut roff = Roff::new();
    for block in blocks {
        match block {
            Block::Paragraph(text) => {
                roff.control("PP", []).text(inlines(text));
            }
            Block::Item(term, text) => {
                roff.control("TP", [])
                    .text(inlines(term))
                    .text(inlines(text));
            }
            Block::Example(text, commands) => {
                roff.control("PP", []).text(inlines(text));
                roff.control("RS", ["4"]).control("nf", []);
                for line in commands.lines() {
                    roff.text([bold(line)]);
                }
                roff.control("fi", []).control("RE", []);
            }
        }
    }
    roff
}

/// Splits text into roman, bold (`` `word` ``) and italic (`<word>`) parts. A
/// mark without its closing character is kept as plain text.
fn inlines(text: &str) -> Vec<Inline> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['`', '<']) {
        let (close, style): (char, fn(String) -> Inline) = if rest[start..].starts_with('`') {
            ('`', bold)
        } else {
            ('>', italic)
        };
        let inner_start = start + 1;
        let Some(inner_len) = rest[inner_start..].find(close) else {
            break;
        };
        if start > 0 {
            parts.push(roman(&rest[..start]));
        }
        parts.push(style(
            rest[inner_start..inner_start + inner_len].to_string(),
        ));
        rest = &rest[inner_start + inner_len + 1..];
    }
    if !rest.is_empty() {
        parts.push(roman(rest));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlines_plain_text() {
        assert_eq!(inlines("no marks"), vec![roman("no marks")]);
        assert_eq!(inlines(""), Vec::<Inline>::new());
    }

    #[test]
    fn inlines_bold_and_italic() {
        assert_eq!(
            inlines("use `-r` <FILE> twice"),
            vec![
                roman("use "),
                bold("-r"),
                roman(" "),
                italic("FILE"),
                roman(" twice")
            ]
        );
        assert_eq!(inlines("`-V`"), vec![bold("-V")]);
    }

    #[test]
    fn inlines_unclosed_mark_kept() {
        assert_eq!(inlines("a `b"), vec![roman("a `b")]);
        assert_eq!(inlines("x < y"), vec![roman("x < y")]);
    }

    #[test]
    fn pages_render_every_section() {
        for page in pages::all() {
            let text = String::from_utf8(render(&page).unwrap()).unwrap();
            for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "VERSION"] {
                assert!(
                    text.contains(&format!(".SH {heading}\n")),
                    "{}: no {heading}",
                    page.file_name
                );
            }
            for section in page.sections {
                let heading = if section.heading.contains(' ') {
                    format!(".SH \"{}\"\n", section.heading)
                } else {
                    format!(".SH {}\n", section.heading)
                };
                assert!(text.contains(&heading), "{}: no {heading}", page.file_name);
            }
            let preambles = text.matches(".ds Aq").count();
            assert_eq!(preambles, 2, "{}: one .ie/.el preamble", page.file_name);
        }
    }

    #[test]
    fn synopsis_names_option_values() {
        let command = clap::Command::new("tool")
            .arg(clap::Arg::new("read").short('r').value_name("FILE"))
            .arg(
                clap::Arg::new("max-flows")
                    .long("max-flows")
                    .value_name("N"),
            )
            .arg(
                clap::Arg::new("quiet")
                    .short('q')
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(
                clap::Arg::new("filter")
                    .value_name("FILTER")
                    .action(clap::ArgAction::Append),
            );
        assert_eq!(
            synopsis(&command),
            ".SH SYNOPSIS\n.ad l\n\\fBtool\\fR \\%[\\fB\\-r\\fR\\ \\fIFILE\\fR] \
             \\%[\\fB\\-\\-max\\-flows\\fR\\ \\fIN\\fR] \\%[\\fB\\-q\\fR] \
             \\%[\\fB\\-h\\fR] \\%[\\fIFILTER\\fR]...\n.ad\n"
        );
    }

    #[test]
    fn pages_list_every_option() {
        for page in pages::all() {
            let text = String::from_utf8(render(&page).unwrap()).unwrap();
            for arg in page.command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    let escaped = format!("\\-\\-{}", long.replace('-', "\\-"));
                    assert!(text.contains(&escaped), "{}: no --{long}", page.file_name);
                }
            }
        }
    }
}
