//! `ward dev-cert`: a local CA, a server certificate and optionally a client certificate, for
//! trying TLS and mTLS on a development machine. Not for production: the CA key sits next to
//! the certificates it signs.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};

/// Options of `ward dev-cert`.
#[derive(Debug, Args)]
pub struct DevCertArgs {
    /// Directory to write into (created if missing).
    #[arg(long, default_value = "./ward-dev-certs")]
    out: PathBuf,
    /// DNS name or IP address the server certificate is valid for; repeatable.
    /// Default: localhost, 127.0.0.1, ::1.
    #[arg(long = "host", value_name = "NAME_OR_IP")]
    hosts: Vec<String>,
    /// Also write a client certificate (`client.pem`, `client.key`) with this common name.
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// Days the server and client certificates are valid (the CA: ten times as long).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

const DEFAULT_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

fn serial() -> SerialNumber {
    // Positive 16-byte serial: a fresh one for every certificate, as RFC 5280 asks.
    let mut bytes = rand::random::<[u8; 16]>();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from(bytes.to_vec())
}

fn validity(params: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
}

/// Writes `contents` to `path`; private keys (`secret`) get mode 0600 from the start.
fn write(path: &Path, contents: &str, secret: bool, force: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(if secret { 0o600 } else { 0o644 });
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if secret {
        // An existing file keeps its mode when truncated.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the CA, the server certificate and optionally a client certificate.
pub fn run(args: DevCertArgs) -> anyhow::Result<()> {
    let hosts: Vec<String> = if args.hosts.is_empty() {
        DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect()
    } else {
        args.hosts.clone()
    };
    let mut names = Vec::new();
    for host in &hosts {
        let host = host.trim();
        let valid = host.parse::<std::net::IpAddr>().is_ok()
            || (!host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
                }));
        if !valid {
            bail!("--host {host:?} is neither an IP address nor a DNS name");
        }
        names.push(host.to_owned());
    }
    if let Some(client) = &args.client
        && (client.trim().is_empty() || client.chars().any(char::is_control))
    {
        bail!("--client needs a name, e.g. --client planner");
    }

    let mut files = vec!["ca.pem", "ca.key", "cert.pem", "key.pem"];
    if args.client.is_some() {
        files.extend(["client.pem", "client.key"]);
    }
    if !args.force {
        let existing: Vec<_> = files
            .iter()
            .filter(|f| args.out.join(f).exists())
            .map(|f| args.out.join(f).display().to_string())
            .collect();
        if !existing.is_empty() {
            bail!(
                "{} already exist(s); use --force to overwrite",
                existing.join(", ")
            );
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;

    // The CA.
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "Ward development CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.serial_number = Some(serial());
    validity(&mut ca, args.days.saturating_mul(10));
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    // The server.
    let server_key = KeyPair::generate()?;
    let mut server =
        CertificateParams::new(names.clone()).map_err(|e| anyhow::anyhow!("--host: {e}"))?;
    server
        .distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.serial_number = Some(serial());
    validity(&mut server, args.days);
    let server_cert = server.signed_by(&server_key, &issuer)?;

    let out = &args.out;
    write(&out.join("ca.pem"), &ca_cert.pem(), false, args.force)?;
    write(
        &out.join("ca.key"),
        &issuer.key().serialize_pem(),
        true,
        args.force,
    )?;
    write(&out.join("cert.pem"), &server_cert.pem(), false, args.force)?;
    write(
        &out.join("key.pem"),
        &server_key.serialize_pem(),
        true,
        args.force,
    )?;

    if let Some(name) = &args.client {
        let client_key = KeyPair::generate()?;
        let mut client = CertificateParams::new(Vec::<String>::new())?;
        client
            .distinguished_name
            .push(DnType::CommonName, name.trim());
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client.serial_number = Some(serial());
        validity(&mut client, args.days);
        let client_cert = client.signed_by(&client_key, &issuer)?;
        write(
            &out.join("client.pem"),
            &client_cert.pem(),
            false,
            args.force,
        )?;
        write(
            &out.join("client.key"),
            &client_key.serialize_pem(),
            true,
            args.force,
        )?;
    }

    let dir = std::fs::canonicalize(out).unwrap_or_else(|_| out.clone());
    let d = dir.display();
    println!(
        "Wrote a development CA and certificates to {d} (valid for: {}).",
        names.join(", ")
    );
    println!("\nAdd to ward.toml:\n\n[tls]\ncert = \"{d}/cert.pem\"\nkey = \"{d}/key.pem\"");
    if args.client.is_some() {
        println!("client_ca = \"{d}/ca.pem\"\nclient_auth = \"ingest\"");
    }
    let host = names
        .iter()
        .find(|n| n.parse::<std::net::IpAddr>().is_err())
        .cloned()
        .unwrap_or_else(|| names[0].clone());
    println!("\nThen:\n\n    curl --cacert {d}/ca.pem https://{host}:4318/livez");
    if args.client.is_some() {
        println!(
            "    curl --cacert {d}/ca.pem --cert {d}/client.pem --key {d}/client.key \\\n         \
             -H 'Authorization: Bearer <ingest key>' -H 'Content-Type: application/json' \\\n         \
             -d '{{}}' https://{host}:4318/v1/logs"
        );
    }
    println!("\nKeep ca.key private; anyone holding it can mint certificates your clients trust.");
    Ok(())
}
