//! `kalam-emulator`: run the emulator as a standalone server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use kalam_emulator::{Emulator, RateLimits, Role, WsSettings};

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
    /// Roles whose queries read every user's rows of a USER table, comma-separated (the
    /// default `system`; `dba,system` gives a dba the same view).
    #[arg(long, value_delimiter = ',', value_parser = parse_role, default_value = "system")]
    cross_partition_readers: Vec<Role>,
    /// Request-rate limits to start from: `off` (the default: nothing is limited) or
    /// `server` (the stock server's 100 queries per user, 20 authentication attempts per IP
    /// and 50 WebSocket messages per connection, per second).
    #[arg(long, default_value = "off", value_parser = ["off", "server"])]
    rate_limits: String,
    /// SQL requests per user per second (`rate_limit.max_queries_per_sec`); overrides
    /// `--rate-limits`.
    #[arg(long)]
    max_queries_per_sec: Option<u32>,
    /// Authentication attempts per client IP per second
    /// (`rate_limit.max_auth_requests_per_ip_per_sec`); overrides `--rate-limits`.
    #[arg(long)]
    max_auth_requests_per_ip_per_sec: Option<u32>,
    /// WebSocket messages per connection per second (`rate_limit.max_messages_per_sec`);
    /// overrides `--rate-limits`.
    #[arg(long)]
    max_messages_per_sec: Option<u32>,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}"))
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
        .cross_partition_readers(args.cross_partition_readers)
        .websocket(
            WsSettings::default().max_subscriptions_per_user(args.ws_max_subscriptions_per_user),
        );
    let mut limits = if args.rate_limits == "server" {
        RateLimits::server_defaults()
    } else {
        RateLimits::default()
    };
    if args.max_queries_per_sec.is_some() {
        limits = limits.queries_per_user(args.max_queries_per_sec);
    }
    if args.max_auth_requests_per_ip_per_sec.is_some() {
        limits = limits.auth_attempts_per_ip(args.max_auth_requests_per_ip_per_sec);
    }
    if args.max_messages_per_sec.is_some() {
        limits = limits.ws_messages_per_connection(args.max_messages_per_sec);
    }
    b = b.rate_limits(limits);
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
