//! `dockfix man`: the whole command line on one roff page. clap_mangen
//! renders the main command's sections; each subcommand gets a subsection of
//! COMMANDS with its synopsis, description and options, so `man dockfix`
//! shows everything without `dockfix-rules(1)`-style pages to install beside
//! it.

use std::io::{Result, Write};

use clap_mangen::Man;

pub fn render(mut cli: clap::Command) -> Vec<u8> {
    cli.build();
    let man = Man::new(cli.clone());
    let mut page = Vec::new();
    let rendered: Result<()> = (|| {
        man.render_title(&mut page)?;
        for render in [
            Man::render_name_section,
            Man::render_synopsis_section,
            Man::render_description_section,
            Man::render_options_section,
        ] {
            page.extend(section(&man, render)?);
        }
        page.extend(b".SH COMMANDS\n");
        // `dockfix help X` is `dockfix X --help`, which this page replaces.
        for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = sub.get_bin_name().unwrap_or(sub.get_name());
            writeln!(page, ".SS \"{name}\"")?;
            let sub = Man::new(sub.clone());
            for render in [
                Man::render_synopsis_section,
                Man::render_description_section,
                Man::render_options_section,
            ] {
                // Under the subcommand's `.SS`, without the section's `.SH`,
                // each part its own paragraph.
                let body = section(&sub, render)?;
                let start = body.iter().position(|&b| b == b'\n').map_or(0, |n| n + 1);
                page.extend(b".PP\n");
                page.extend(&body[start..]);
            }
        }
        page.extend(section(&man, Man::render_version_section)?);
        Ok(())
    })();
    rendered.expect("writing to memory cannot fail");
    page
}

type Render = fn(&Man, &mut dyn Write) -> Result<()>;

/// One section, starting at its `.SH` line: every rendering repeats the
/// preamble the title's rendering already wrote.
fn section(man: &Man, render: Render) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    render(man, &mut text)?;
    let start = text.windows(4).position(|w| w == b".SH ").unwrap_or(0);
    Ok(text.split_off(start))
}
