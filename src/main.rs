//! The `botbuilder` command.

use std::process::ExitCode;

fn main() -> ExitCode {
    botbuilder::cli::main()
}
