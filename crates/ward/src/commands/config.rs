//! `ward config check`.

use clap::Subcommand;

use super::ConfigArg;

/// Configuration commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration file and `WARD_*` overrides; exit 1 with the reason if invalid.
    #[command(
        after_help = "Examples:\n  ward config check\n  ward config check --config /etc/ward/ward.toml --print"
    )]
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// Also print the effective configuration (file + overrides + defaults) as TOML.
        #[arg(long)]
        print: bool,
    },
}

/// Runs a configuration command.
pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check { config, print } => {
            let loaded = config.load()?;
            let settings = config.settings(loaded)?;
            if print {
                print!("{}", toml::to_string_pretty(&settings.config)?);
            }
            let source = config
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "built-in defaults".into());
            for warning in settings.hardening.warnings() {
                eprintln!("warning: {warning}");
            }
            eprintln!(
                "ok: {source} (http {}, grpc {}, data {})",
                settings.listen,
                settings
                    .grpc_listen
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "disabled".into()),
                settings.config.data_dir.display()
            );
            Ok(())
        }
    }
}
