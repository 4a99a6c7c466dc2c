//! `ucce-sim`: command-line entry point of the UCCE server double. CLI definition and glue
//! only; the library does the work.
//!
//! Called through a link, the program name picks a shim, as on Windows: `msiexec ARGS`,
//! `reg ARGS` (root from `UCCE_SIM_ROOT`, default `/`) and `ucce-sim-cmd -c LINE` (the ssh
//! user's login shell in the container image).

use std::{io::IsTerminal, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use ucce_sim::{ServeOptions, msi::Background, tree::SimPaths};

#[derive(Debug, Parser)]
#[command(
    name = "ucce-sim",
    version,
    about = "A Cisco UCCE server double: IIS + CORS module + Config API over HTTPS, msiexec/reg/cmd shims"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the server root (drive C: tree, stock configs, test CA and server certificate).
    Init {
        #[arg(long)]
        root: PathBuf,
        /// Extra names for the server certificate (localhost and 127.0.0.1 are always in).
        #[arg(long = "hostname")]
        hostnames: Vec<String>,
    },
    /// Serve IIS + CORS module + Config API over HTTPS until Ctrl-C or SIGTERM.
    Serve {
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        listen: SocketAddr,
        /// Also serve the Finesse gadget page (/desktop/gadget.html) on this address.
        #[arg(long)]
        finesse_listen: Option<SocketAddr>,
    },
    /// Windows Installer shim: `msiexec /i PKG /qn /norestart /l*v LOG`.
    Msiexec {
        #[arg(long, env = "UCCE_SIM_ROOT", default_value = "/")]
        root: PathBuf,
        /// Wait this long first (used for installs that finish after msiexec returned).
        #[arg(long, hide = true)]
        delay_ms: Option<u64>,
        #[arg(long, hide = true)]
        no_async: bool,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// reg.exe shim: `reg query KEY [/v NAME]`.
    Reg {
        #[arg(long, env = "UCCE_SIM_ROOT", default_value = "/")]
        root: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// cmd.exe shim: run one command line.
    Cmd {
        #[arg(long, env = "UCCE_SIM_ROOT", default_value = "/")]
        root: PathBuf,
        #[arg(short = 'c', allow_hyphen_values = true)]
        line: String,
    },
    /// Write a test package the msiexec shim accepts (not a Microsoft file).
    MakeMsi { out: PathBuf },
}

fn env_root() -> PathBuf {
    std::env::var_os("UCCE_SIM_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Process exit status from a Windows exit code. Unix keeps only the low 8 bits, so the full
/// code is also written to stderr for codes above 255.
fn exit_with(code: i32) -> ExitCode {
    if !(0..=255).contains(&code) {
        eprintln!("ucce-sim: exit code {code}");
    }
    ExitCode::from((code & 0xff) as u8)
}

fn self_exe() -> Background {
    match std::env::current_exe() {
        Ok(exe) => Background::Process { exe },
        Err(_) => Background::Thread,
    }
}

fn run_cmd_shell(root: &std::path::Path, line: &str) -> ExitCode {
    let out = ucce_sim::shell::run_with(root, line, &self_exe());
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    exit_with(out.code)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv
        .first()
        .map(|a| {
            let base = a
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or(a)
                .to_ascii_lowercase();
            base.strip_suffix(".exe")
                .map(str::to_string)
                .unwrap_or(base)
        })
        .unwrap_or_default();
    match prog.as_str() {
        "msiexec" => {
            return exit_with(ucce_sim::msi::msiexec_with(
                &env_root(),
                &argv[1..],
                &self_exe(),
                false,
            ));
        }
        "reg" => {
            let out = ucce_sim::reg::run(&SimPaths::new(&env_root()), &argv[1..]);
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            return exit_with(out.code);
        }
        "ucce-sim-cmd" => {
            return match argv.get(1).map(String::as_str) {
                Some("-c") => run_cmd_shell(&env_root(), &argv[2..].join(" ")),
                _ => {
                    eprintln!(
                        "ucce-sim-cmd: only `-c COMMANDLINE` is supported (no interactive shell)"
                    );
                    ExitCode::from(1)
                }
            };
        }
        _ => {}
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Init { root, hostnames } => match ucce_sim::init(&root, &hostnames) {
            Ok(p) => {
                println!("initialised {}", p.root.display());
                println!("CA certificate: {}", p.ca_pem.display());
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        Command::Serve {
            root,
            listen,
            finesse_listen,
        } => serve(ServeOptions {
            root,
            listen,
            finesse_listen,
        }),
        Command::Msiexec {
            root,
            delay_ms,
            no_async,
            args,
        } => {
            if let Some(ms) = delay_ms {
                std::thread::sleep(Duration::from_millis(ms));
            }
            exit_with(ucce_sim::msi::msiexec_with(
                &root,
                &args,
                &self_exe(),
                no_async,
            ))
        }
        Command::Reg { root, args } => {
            let out = ucce_sim::reg::run(&SimPaths::new(&root), &args);
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            exit_with(out.code)
        }
        Command::Cmd { root, line } => run_cmd_shell(&root, &line),
        Command::MakeMsi { out } => match ucce_sim::make_msi(&out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report(&e),
        },
    }
}

fn report(e: &dyn std::error::Error) -> ExitCode {
    let mut msg = format!("ucce-sim: failed to {e}");
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    eprintln!("{msg}");
    ExitCode::from(1)
}

fn serve(opts: ServeOptions) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return report(&e),
    };
    rt.block_on(async {
        let token = CancellationToken::new();
        let sim = match ucce_sim::start(opts, token.clone()).await {
            Ok(s) => s,
            Err(e) => return report(&e),
        };
        let stopper = token.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            stopper.cancel();
        });
        match sim.wait().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report(&e),
        }
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
