//! `kalam-emulator`: run the emulator as a standalone server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use kalam_emulator::{Emulator, Role, WsSettings};

/// An in-process KalamDB-compatible server (SQL on DataFusion).
#[derive(Debug, Parser)]
#[command(name = "kalam-emulator", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2900")]
    listen: SocketAddr,
    /// Directory of `*.sql` schema files applied at start.
    #[arg(long)]
    schemas: Option<PathBuf>,
    /// Password of the `root` user.
    #[arg(long, default_value = kalam_emulator::DEFAULT_ROOT_PASSWORD)]
    root_password: String,
    /// Extra user as `id:password:role` (repeatable; the first one replaces the default
    /// `admin` dba user).
    #[arg(long = "user", value_parser = parse_user)]
    users: Vec<(String, String, Role)>,
    /// Start as a fresh server that needs `/v1/api/auth/setup`.
    #[arg(long)]
    needs_setup: bool,
    /// Live-query subscriptions allowed per user across all sockets (the server's default is
    /// 10; servers used for conformance runs raise it).
    #[arg(long, default_value_t = 10)]
    ws_max_subscriptions_per_user: usize,
}

fn parse_user(s: &str) -> Result<(String, String, Role), String> {
    let mut parts = s.splitn(3, ':');
    let (Some(id), Some(pw), Some(role)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("expected id:password:role, got {s:?}"));
    };
    let role = Role::parse(role).ok_or_else(|| format!("unknown role {role:?}"))?;
    Ok((id.to_owned(), pw.to_owned(), role))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut b = Emulator::builder()
        .listen(args.listen)
        .root_password(args.root_password)
        .needs_setup(args.needs_setup)
        .websocket(
            WsSettings::default().max_subscriptions_per_user(args.ws_max_subscriptions_per_user),
        );
    if let Some(dir) = args.schemas {
        b = b.schemas_dir(dir);
    }
    for (id, pw, role) in args.users {
        b = b.user(id, pw, role);
    }
    let emu = match b.start().await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                eprintln!("  caused by: {s}");
                src = s.source();
            }
            std::process::exit(1);
        }
    };
    println!("listening on {}", emu.url());
    let _ = tokio::signal::ctrl_c().await;
    emu.shutdown().await;
}
