//! `mlopsctl checks` and `mlopsctl explain CODE`.

use std::io::Write;

use anyhow::{Result, bail};

use super::Exit;
use crate::catalogue::Catalogue;
use crate::cli::{ChecksArgs, ExplainArgs};
use crate::render::{self, Style};

pub fn list(args: &ChecksArgs, style: Style, out: &mut dyn Write) -> Result<Exit> {
    let catalogue = Catalogue::load(&args.checks.dirs)?;
    render::catalogue::list(&catalogue, args.output, style, out)?;
    Ok(Exit::Ok)
}

pub fn explain(args: &ExplainArgs, style: Style, out: &mut dyn Write) -> Result<Exit> {
    let catalogue = Catalogue::load(&args.checks.dirs)?;
    let Some(check) = catalogue.get(&args.code) else {
        bail!(
            "unknown check code `{}`: run `mlopsctl checks` for the catalogue",
            args.code
        );
    };
    render::use_color(style.color);
    write!(out, "{}", render::catalogue::explanation(check))?;
    Ok(Exit::Ok)
}
