//! The codegen workflow in one program: pull a server's schema into `schemas/`, generate Rust
//! from it, verify the generated code, then detect drift after the server changes.
//!
//! ```text
//! cargo run -p kalam-examples --bin codegen
//! ```
//!
//! With `KALAMDB_SERVER_URL` (and `KALAMDB_USER`/`KALAMDB_PASSWORD`, a dba) set it reads that
//! server and changes nothing on it; otherwise it starts the emulator seeded with the
//! workspace's `schemas/` and also shows drift after an `ALTER TABLE`.
use std::error::Error;
use std::path::Path;

use kalam_codegen::{
    Config, Credentials, FileStatus, Generator, HttpSource, SqlSource, TableFilter, diff,
    introspect, load_schemas, user_catalog,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let work = std::env::temp_dir().join(format!("kalam-codegen-example-{}", std::process::id()));
    let schemas = work.join("schemas");
    let generated = work.join("src/generated");

    // A server: the one configured, or an emulator seeded with the workspace's schema files.
    let (url, credentials, emulator) = match std::env::var("KALAMDB_SERVER_URL") {
        Ok(url) => {
            let user = std::env::var("KALAMDB_USER")?;
            let password = std::env::var("KALAMDB_PASSWORD")?;
            (url, Credentials::Password { user, password }, None)
        }
        Err(_) => {
            let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
            let emu = kalam_emulator::Emulator::builder()
                .schemas_dir(seed)
                .start()
                .await?;
            let (user, password) = kalam_emulator::DEFAULT_ADMIN;
            let credentials = Credentials::Password {
                user: user.into(),
                password: password.into(),
            };
            (emu.url(), credentials, Some(emu))
        }
    };
    let mut source = HttpSource::connect(&url, credentials).await?;

    // 1. pull: server → schemas/<namespace>.sql
    let pulled = kalam_codegen::pull(&mut source, &TableFilter::default(), &schemas).await?;
    for path in pulled.files.write()? {
        println!("pulled    {}", path.display());
    }

    // 2. generate: schemas/ → src/generated/{mod.rs, <namespace>.rs}
    let generator = Generator::new()
        .schemas(&schemas)
        .config(Config::default())
        .out_modules(&generated)
        .cargo_rerun_lines(false);
    for path in generator.run()? {
        println!("generated {}", path.display());
    }

    // 3. check (no server): the generated code is up to date with schemas/.
    let up_to_date = generator
        .check()?
        .iter()
        .all(|f| f.status == FileStatus::UpToDate);
    println!("generated code up to date: {up_to_date}");

    // 4. check --url: compare schemas/ with the server, before and after a change.
    let drift = |actual| -> Result<_, kalam_codegen::Error> {
        Ok(diff(
            &user_catalog(load_schemas(&schemas)?.catalog),
            &actual,
        ))
    };
    let actual = introspect::pull_catalog(&mut source, &TableFilter::default()).await?;
    print!("{}", drift(actual)?.to_text());
    if let Some(emu) = emulator {
        source
            .query("ALTER TABLE support.messages ADD COLUMN edited_at TIMESTAMP")
            .await?;
        let actual = introspect::pull_catalog(&mut source, &TableFilter::default()).await?;
        print!("after ALTER TABLE: {}", drift(actual)?.to_text());
        emu.shutdown().await;
    }
    std::fs::remove_dir_all(&work)?;
    Ok(())
}
