#!/usr/bin/env python3
"""Labelled log corpus for Ward's PII/secret scrubber benchmark.

    python generate.py --lines 20000 --seed 7 --out corpus/

writes into --out:
  corpus.txt     one log record per line (UTF-8, '\\n'-terminated, no other newlines)
  labels.jsonl   {"line": N (0-based), "start": byte, "end": byte (exclusive), "type": "<type>"}
  decoys.jsonl   same shape, "kind" instead of "type": unlabelled look-alikes (trace ids, digests,
                 Luhn-invalid runs, invalid SSNs, ...) placed on purpose, for false-positive analysis
  stats.json     lines, bytes, clean-line share, labels per type, decoys per kind
  selfcheck.json pass rate of the validators (python-stdnum & co) over every labelled value

types.json (next to this script) lists every label type with {"secret": bool, "checksum": bool}.

Shapes: plain text, logfmt, JSON, LLM prompt/completion records, stack traces (Python, Java, JS;
one line with literal \\n escapes, bare or inside JSON), access logs / URLs / connection strings.
Everything is drawn from one random.Random(seed) and a Faker seeded from it: the same seed and the
same pinned package versions give byte-identical output.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import random
import sys
from pathlib import Path

from faker import Faker

import values as V

HERE = Path(__file__).resolve().parent

# ----------------------------------------------------------------------------------------------
# Parts: a line is built from (text, tag) parts; tag is None, "L:<type>" (labelled) or
# "D:<kind>" (decoy).  Escaping is applied part by part, so labels follow the escaped bytes.
# ----------------------------------------------------------------------------------------------


def T(s):
    return (s, None)


def L(s, t):
    return (s, "L:" + t)


def D(s, k):
    return (s, "D:" + k)


def esc_json(parts):
    return [(json.dumps(t, ensure_ascii=False)[1:-1], tag) for t, tag in parts]


def esc_logfmt(parts):
    return [(t.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t"), tag) for t, tag in parts]


def esc_plain(parts):
    return [(t.replace("\n", "\\n").replace("\t", "\\t"), tag) for t, tag in parts]


def jstr(parts):
    """A JSON string literal made of parts."""
    return [T('"')] + esc_json(parts) + [T('"')]


def text_of(parts):
    return "".join(t for t, _ in parts)


def needs_quote(parts):
    s = text_of(parts)
    return s == "" or any(c in s for c in ' "=\\\n\t')


def logfmt_kv(key, parts):
    if needs_quote(parts):
        return [T(f'{key}="')] + esc_logfmt(parts) + [T('"')]
    return [T(f"{key}=")] + parts


def json_kv(key, parts):
    return [T(json.dumps(key) + ":")] + jstr(parts)


def join(sep, chunks):
    out = []
    for i, c in enumerate(chunks):
        if i:
            out.append(T(sep))
        out.extend(c)
    return out


def fill(template, value_parts):
    """'my card is {}' + parts -> parts."""
    pre, _, post = template.partition("{}")
    return ([T(pre)] if pre else []) + list(value_parts) + ([T(post)] if post else [])


# ----------------------------------------------------------------------------------------------
# Context
# ----------------------------------------------------------------------------------------------

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "it_IT", "es_ES", "nl_NL", "pl_PL", "sv_SE", "fi_FI",
           "ja_JP", "pt_BR", "hi_IN"]
SERVICES = ["checkout", "payments", "auth", "planner", "agent-runtime", "billing", "notifier", "ingest",
            "search", "gateway", "llm-proxy", "scheduler", "profile-svc", "kyc", "support-bot"]
LEVELS = ["INFO"] * 6 + ["DEBUG"] * 2 + ["WARN", "ERROR"]


class Ctx:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.fake = Faker(LOCALES)
        self.fake.seed_instance(seed)
        self.ts = 1_714_521_600_000 + self.rng.randint(0, 10_000_000)  # May 2024, ms

    @property
    def en(self):
        return self.fake["en_US"]

    def tick(self):
        self.ts += self.rng.randint(1, 900)
        return self.ts


# ----------------------------------------------------------------------------------------------
# Decoys: unlabelled look-alikes
# ----------------------------------------------------------------------------------------------


def iso(ms, style=0):
    import datetime as dt
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    if style == 0:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    if style == 1:
        return t.strftime("%Y-%m-%d %H:%M:%S,") + f"{ms % 1000:03d}"
    if style == 2:
        return t.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return t.strftime("%b %d %H:%M:%S").replace(" 0", "  ")


class Decoys:
    def __init__(self, c: Ctx):
        self.c = c
        self.r = c.rng

    def trace_id(self):
        return D(V.rstr(self.r, V.HEX, 32), "trace_id")

    def span_id(self):
        return D(V.rstr(self.r, V.HEX, 16), "span_id")

    def uuid(self):
        h = V.rstr(self.r, V.HEX, 32)
        h = h[:12] + "4" + h[13:16] + self.r.choice("89ab") + h[17:]
        return D(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", "uuid")

    def iso_ts(self, style=0):
        return D(iso(self.c.tick(), style), "timestamp")

    def epoch_ms(self):
        return D(str(self.c.tick() + self.r.randint(-10**8, 10**8)), "epoch_ms")

    def epoch_s(self):
        return D(str((self.c.tick() // 1000) + self.r.randint(-10**7, 10**7)), "epoch_s")

    def version(self):
        r = self.r
        return D(r.choice([f"{r.randint(0, 4)}.{r.randint(0, 30)}.{r.randint(0, 20)}",
                           f"v{r.randint(1, 3)}.{r.randint(0, 60)}.{r.randint(0, 9)}-rc{r.randint(1, 4)}",
                           f"v{r.randint(1, 3)}.{r.randint(0, 60)}.{r.randint(0, 9)}",
                           f"{r.randint(5, 6)}.{r.randint(1, 19)}.0-{r.randint(1000, 1100)}-aws",
                           f"{r.randint(1, 2)}.{r.randint(0, 9)}.{r.randint(0, 9)}+build.{r.randint(100, 9999)}"]), "version")

    def sha1(self):
        return D(V.rstr(self.r, V.HEX, 40), "sha1")

    def sha256(self):
        return D(V.rstr(self.r, V.HEX, 64), "sha256")

    def md5(self):
        return D(V.rstr(self.r, V.HEX, 32), "md5")

    def git_sha(self, short=False):
        return D(V.rstr(self.r, V.HEX, 7 if short else 40), "git_sha")

    def luhn_invalid(self):
        return D(V.luhn_invalid_16(self.r), "luhn_invalid_16")

    def invalid_ssn(self):
        return D(V.invalid_ssn(self.r), "invalid_ssn")

    def line_no(self):
        return D(str(self.r.randint(1, 2400)), "line_number")

    def port(self):
        return D(str(self.r.choice([80, 443, 5432, 6379, 8080, 8443, 9090, 3000, 27017, 4317, 4318, 9200, 50051])), "port")

    def duration(self):
        r = self.r
        return D(r.choice([f"{r.randint(1, 999)}ms", f"{r.randint(1, 59)}.{r.randint(0, 999):03d}s",
                           f"{r.randint(1, 900)}µs", f"{r.randint(1, 5)}m{r.randint(0, 59)}s"]), "duration")

    def duration_num(self):
        return D(str(self.r.randint(1, 30000)), "duration")

    def bytes(self):
        r = self.r
        return D(r.choice([str(r.randint(100, 10**9)), f"{r.randint(1, 1023)}KiB", f"{r.randint(1, 900)}.{r.randint(0, 9)}MB"]), "byte_count")

    def order_id(self):
        r = self.r
        return D(r.choice([f"ORD-{r.randint(2019, 2025)}-{r.randint(0, 999999):06d}", V.rdigits(r, 9, True),
                           V.rdigits(r, 11, True), V.rdigits(r, 12, True), f"{r.randint(100, 999)}-{r.randint(1000000, 9999999)}-{r.randint(1000000, 9999999)}"]), "order_id")

    def pod(self):
        r = self.r
        return D(f"{r.choice(SERVICES)}-{V.rstr(r, 'bcdfghjklmnpqrstvwxz2456789', 9)}-{V.rstr(r, 'bcdfghjklmnpqrstvwxz2456789', 5)}", "pod_name")

    def base64_blob(self):
        r = self.r
        payload = json.dumps(r.choice([{"page": r.randint(1, 90), "sort": "created_at"}, {"id": r.randint(1, 10**6)},
                                       {"returnTo": "/dashboard", "ts": r.randint(10**9, 2 * 10**9)},
                                       {"event": "pageview", "path": "/pricing"}]), separators=(",", ":")).encode()
        if r.random() < 0.5:
            payload = payload + V.rbytes(r, r.randint(0, 24))
        return D(base64.b64encode(payload).decode(), "base64_blob")

    def ulid(self):
        return D("01H" + V.rstr(self.r, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 23), "ulid")

    def stripe_obj(self):
        r = self.r
        return D(r.choice(["cus_", "ch_", "pi_", "in_", "sub_", "evt_"]) + V.rstr(r, V.ALNUM, r.choice([14, 24])), "stripe_object_id")

    def aws_account(self):
        return D(V.rdigits(self.r, 12, True), "aws_account_id")

    def container(self):
        return D(V.rstr(self.r, V.HEX, 12), "container_id")

    def mem_addr(self):
        return D("0x7f" + V.rstr(self.r, V.HEX, 10), "memory_address")

    def npm_pkg(self):
        r = self.r
        return D(r.choice([f"lodash@4.17.{r.randint(10, 21)}", f"@types/node@{r.randint(16, 22)}.{r.randint(0, 19)}.{r.randint(0, 9)}",
                           f"react-dom@18.{r.randint(0, 3)}.{r.randint(0, 9)}", f"@opentelemetry/api@1.{r.randint(0, 9)}.0"]), "package_version")

    def file_at(self):
        return D(self.r.choice(["logo@2x.png", "icon@3x.webp", "avatar@2x.jpg", "hero@1.5x.png"]), "file_at_scale")

    def public_key(self):
        return D("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + V.rstr(self.r, V.ALNUM + "+/", 43) + " deploy@ci-runner", "ssh_public_key")

    def certificate(self):
        body = base64.b64encode(bytes.fromhex("308203") + V.rbytes(self.r, 420)).decode()
        lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
        return D(f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----", "certificate")

    def masked(self):
        return D(self.r.choice(["[REDACTED]", "********", "***", "<hidden>", "${DB_PASSWORD}", "{{ .Values.password }}", "null"]), "masked_secret")

    def token_count(self):
        return D(str(self.r.randint(1, 128000)), "token_count")

    def s3_key(self):
        r = self.r
        return D(f"logs/{r.randint(2022, 2025)}/{r.randint(1, 12):02d}/{r.randint(1, 28):02d}/part-{r.randint(0, 99999):05d}.json.gz", "s3_key")

    def k8s_secret(self):
        return D(self.r.choice(["prod-db-credentials", "stripe-webhook-secret", "tls-cert-acme", "app-env-secrets"]), "k8s_secret_name")

    def cpp_symbol(self):
        return D(self.r.choice(["std::vector<int>::push_back", "ward::ingest::Batcher::flush", "absl::Status::ToString",
                                "grpc::ServerContext::IsCancelled", "Eigen::Matrix<float,-1,-1>::resize"]), "cpp_symbol")

    def clock(self):
        return D(f"{self.r.randint(0, 23):02d}:{self.r.randint(0, 59):02d}:{self.r.randint(0, 59):02d}", "clock_time")

    def hexid(self, n=24):
        return D(V.rstr(self.r, V.HEX, n), "hex_id")

    def user_agent(self):
        return D(self.c.en.user_agent(), "user_agent")

    def ipv4_like_version(self):
        r = self.r
        return D(f"{r.randint(100, 130)}.0.{r.randint(5000, 6999)}.{r.randint(10, 250)}", "browser_version")


# ----------------------------------------------------------------------------------------------
# Items: one labelled value with its contexts.
# ----------------------------------------------------------------------------------------------


class Item:
    def __init__(self, typ, parts, phrases, keys, kw=None, chat=None):
        self.type = typ
        self.parts = parts          # value parts (labelled part inside)
        self.phrases = phrases      # log-message templates with {}
        self.keys = keys            # field names for key/value placement
        self.kw = kw                # human keyword for conversational phrases ("my {kw} is {}")
        self.chat = chat or []      # extra conversational templates (multilingual)

    def phrase(self, rng, chatty=False):
        pool = list(self.phrases)
        if chatty:
            pool = pool + self.chat * 2
            if self.kw:
                pool += [f"my {self.kw} is {{}}", f"here is my {self.kw}: {{}}", f"{self.kw}: {{}}"]
        return fill(rng.choice(pool), self.parts)

    def key(self, rng):
        return rng.choice(self.keys)


def item_for(c: Ctx, typ: str) -> Item:
    r, f = c.rng, c.fake
    v = lambda s: [L(s, typ)]  # noqa: E731
    if typ == "email":
        return Item(typ, v(V.email(r, c.en)),
                    ["user {} logged in", "sent receipt to {}", "password reset requested for {}", "bounce from <{}>: mailbox full",
                     "invited {} to workspace", "unsubscribe {}", "SMTP RCPT TO:<{}> accepted"],
                    ["email", "user.email", "customer_email", "to", "reply_to", "recipient"], "email address",
                    ["mi correo es {}", "mon e-mail est {}", "meine E-Mail-Adresse lautet {}", "メールアドレスは{}です"])
    if typ == "phone":
        region, s = V.phone_text(r)
        chat = {"FR": ["mon numéro est le {}"], "DE": ["meine Nummer ist {}"], "ES": ["mi teléfono es {}"],
                "IT": ["il mio numero è {}"], "NL": ["mijn nummer is {}"], "BR": ["meu telefone é {}"],
                "JP": ["電話番号は{}です"], "IN": ["mera number {} hai"]}.get(region, ["call me on {}"])
        return Item(typ, v(s), ["SMS sent to {}", "OTP delivered to {}", "customer callback number {}", "phone: {}",
                                "Twilio call to {} completed", "verified phone {}"],
                    ["phone", "phone_number", "mobile", "tel", "msisdn", "contact.phone"], "phone number", chat)
    if typ == "credit_card":
        return Item(typ, v(V.credit_card(r)), ["charging card {}", "payment declined for card {} (insufficient_funds)",
                                               "card number {} tokenized", "PAN {} failed AVS check", "card {} expired"],
                    ["card_number", "pan", "cc", "payment.card", "cardNumber"], "card number",
                    ["ma carte bancaire est {}", "meine Kreditkarte: {}", "mi tarjeta es {}", "my card is {} exp 04/27"])
    if typ == "iban":
        return Item(typ, v(V.iban(r)), ["refund to IBAN {}", "SEPA payout to {} scheduled", "payout account {}",
                                        "mandate created for IBAN {}"], ["iban", "payout_iban", "bank.iban"], "IBAN",
                    ["mon IBAN est {}", "meine IBAN lautet {}", "mi IBAN es {}"])
    if typ == "aba_routing":
        return Item(typ, v(V.aba_routing(r)), ["routing number {}", "ACH transfer via ABA {}", "ABA routing #{} account ****1234",
                                               "bank routing no. {}"], ["routing_number", "aba_routing", "aba"], "routing number")
    if typ == "swift_bic":
        return Item(typ, v(V.swift_bic(r)), ["SWIFT {}", "wire to BIC {}", "swift code: {}", "beneficiary bank BIC/SWIFT {}"],
                    ["swift", "bic", "swift_code", "bank.bic"], "SWIFT code")
    if typ == "bitcoin_address":
        return Item(typ, v(V.bitcoin_address(r)), ["withdrawal to {} broadcast", "BTC deposit address {}", "sending 0.0042 BTC to {}"],
                    ["btc_address", "wallet", "destination_address"], "bitcoin address")
    if typ == "ethereum_address":
        return Item(typ, v(V.ethereum_address(r)), ["wallet {} connected", "transfer from {} confirmed in block 19283746",
                                                    "ETH address {}"], ["eth_address", "wallet_address", "from_address"], "wallet address")
    if typ == "us_ssn":
        s = V.us_ssn(r, dashed=r.random() < 0.8)
        return Item(typ, v(s), ["SSN {}", "ssn={} verified", "social security number {} on file", "identity check: SSN {} matched"],
                    ["ssn", "social_security_number", "applicant.ssn"], "SSN", ["my social is {}"])
    if typ == "us_itin":
        return Item(typ, v(V.us_itin(r)), ["ITIN {}", "taxpayer ITIN {} validated"], ["itin", "tax_id"], "ITIN")
    if typ == "uk_nino":
        return Item(typ, v(V.uk_nino(r)), ["NI number {}", "National Insurance number {} submitted to HMRC", "NINO {}"],
                    ["nino", "ni_number", "national_insurance_number"], "National Insurance number")
    if typ == "uk_nhs":
        return Item(typ, v(V.uk_nhs(r)), ["NHS number {}", "patient NHS no. {} registered"], ["nhs_number", "patient.nhs_number"], "NHS number")
    if typ == "fr_nir":
        return Item(typ, v(V.fr_nir(r)), ["NIR {}", "numéro de sécurité sociale {}", "n° INSEE {}"], ["nir", "insee", "securite_sociale"],
                    "social security number", ["mon numéro de sécurité sociale est le {}"])
    if typ == "de_tax_id":
        return Item(typ, v(V.de_tax_id(r)), ["Steuer-ID {}", "Steueridentifikationsnummer {} gespeichert", "tax id (DE) {}"],
                    ["steuer_id", "steuerid", "idnr"], "Steuer-ID", ["meine Steuer-ID lautet {}"])
    if typ == "it_codice_fiscale":
        return Item(typ, v(V.it_codice_fiscale(r)), ["codice fiscale {}", "CF {} verificato"], ["codice_fiscale", "cf"],
                    "codice fiscale", ["il mio codice fiscale è {}"])
    if typ == "es_nif":
        return Item(typ, v(V.es_nif(r)), ["DNI {}", "NIF {} validado"], ["dni", "nif"], "DNI", ["mi DNI es el {}"])
    if typ == "es_nie":
        return Item(typ, v(V.es_nie(r)), ["NIE {}", "permiso de residencia NIE {}"], ["nie"], "NIE", ["mi NIE es {}"])
    if typ == "nl_bsn":
        return Item(typ, v(V.nl_bsn(r)), ["BSN {}", "burgerservicenummer {} gecontroleerd"], ["bsn", "burgerservicenummer"], "BSN",
                    ["mijn BSN is {}"])
    if typ == "pl_pesel":
        return Item(typ, v(V.pl_pesel(r)), ["PESEL {}", "numer PESEL {} zweryfikowany"], ["pesel"], "PESEL", ["mój PESEL to {}"])
    if typ == "se_personnummer":
        return Item(typ, v(V.se_personnummer(r)), ["personnummer {}", "BankID login för personnummer {}"], ["personnummer", "pnr"],
                    "personnummer", ["mitt personnummer är {}"])
    if typ == "fi_hetu":
        return Item(typ, v(V.fi_hetu(r)), ["henkilötunnus {}", "HETU {}"], ["hetu", "henkilotunnus"], "henkilötunnus",
                    ["henkilötunnukseni on {}"])
    if typ == "ca_sin":
        return Item(typ, v(V.ca_sin(r)), ["SIN {}", "social insurance number {} on T4"], ["sin", "social_insurance_number"], "SIN")
    if typ == "in_aadhaar":
        return Item(typ, v(V.in_aadhaar(r)), ["Aadhaar {}", "aadhaar no. {} eKYC ok", "UIDAI aadhaar number {}"],
                    ["aadhaar", "aadhaar_number", "uid"], "Aadhaar number", ["mera aadhaar number {} hai"])
    if typ == "au_tfn":
        return Item(typ, v(V.au_tfn(r)), ["TFN {}", "tax file number {} lodged"], ["tfn", "tax_file_number"], "tax file number")
    if typ == "passport":
        return Item(typ, v(V.passport(r)), ["passport number {}", "passport no. {} scanned", "passport #{} expires 2031-03-02"],
                    ["passport_number", "passport_no", "passport"], "passport number", ["mon numéro de passeport est {}"])
    if typ == "us_npi":
        return Item(typ, v(V.us_npi(r)), ["NPI {}", "provider NPI {} credentialed"], ["npi", "provider_npi"], "NPI")
    if typ == "us_dea":
        return Item(typ, v(V.us_dea(r)), ["DEA {}", "prescriber DEA# {} verified"], ["dea_number", "dea"], "DEA number")
    if typ == "us_mbi":
        return Item(typ, v(V.us_mbi(r)), ["MBI {}", "Medicare beneficiary identifier {} eligible"], ["mbi", "medicare_id"], "Medicare number")
    if typ == "ipv4":
        return Item(typ, v(V.ipv4(r)), ["connection from {}", "client {} rate limited", "peer {} closed connection", "blocked IP {}",
                                        "X-Forwarded-For: {}"], ["client_ip", "remote_addr", "src_ip", "peer.ip", "ip"], "IP address")
    if typ == "ipv6":
        return Item(typ, v(V.ipv6(r)), ["connection from {}", "client [{}] rate limited", "peer {} closed connection"],
                    ["client_ip", "remote_addr", "net.peer.ip"], "IPv6 address")
    if typ == "mac_address":
        return Item(typ, v(V.mac_address(r)), ["device {} joined", "DHCPACK to {}", "hwaddr {}"], ["mac", "mac_address", "hw_addr"], "MAC address")

    # --- secrets with their own format -------------------------------------------------------
    simple = {
        "openai_key": (V.openai_key, ["OPENAI_API_KEY={}", "using OpenAI key {}", "openai.api_key = {}"], ["OPENAI_API_KEY", "openai_api_key", "api_key"]),
        "anthropic_key": (V.anthropic_key, ["ANTHROPIC_API_KEY={}", "x-api-key: {}", "anthropic client created with key {}"], ["ANTHROPIC_API_KEY", "anthropic_api_key", "x-api-key"]),
        "aws_access_key_id": (V.aws_access_key_id, ["AWS_ACCESS_KEY_ID={}", "assumed role with access key {}", "signing request with {}"], ["aws_access_key_id", "AccessKeyId", "accessKeyId"]),
        "aws_secret_key": (V.aws_secret_key, ["aws_secret_access_key={}", "AWS_SECRET_ACCESS_KEY={}", "aws_secret_access_key = {}"], ["aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey"]),
        "gcp_api_key": (V.gcp_api_key, ["GOOGLE_API_KEY={}", "GET https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={}", "gemini key {}"], ["google_api_key", "GOOGLE_API_KEY", "firebase.apiKey"]),
        "github_token": (V.github_token, ["GITHUB_TOKEN={}", "git push with token {}", "gh auth login --with-token {}"], ["github_token", "GH_TOKEN", "gh_token"]),
        "gitlab_token": (V.gitlab_token, ["GITLAB_TOKEN={}", "PRIVATE-TOKEN: {}", "gitlab personal access token {}"], ["gitlab_token", "CI_JOB_TOKEN", "private_token"]),
        "slack_token": (V.slack_token, ["SLACK_BOT_TOKEN={}", "slack client token {}", "chat.postMessage with {}"], ["slack_token", "SLACK_BOT_TOKEN", "bot_token"]),
        "stripe_key": (V.stripe_key, ["STRIPE_SECRET_KEY={}", "stripe.api_key = {}", "Stripe key {} rejected"], ["stripe_secret_key", "STRIPE_API_KEY", "stripe_key"]),
        "twilio_key": (V.twilio_key, ["twilio api key {}", "TWILIO_API_KEY={}", "Twilio SK {} revoked"], ["TWILIO_API_KEY", "twilio_api_key", "twilio_key_sid"]),
        "sendgrid_key": (V.sendgrid_key, ["SENDGRID_API_KEY={}", "sendgrid key {}"], ["sendgrid_api_key", "SENDGRID_API_KEY"]),
        "huggingface_token": (V.huggingface_token, ["HF_TOKEN={}", "huggingface-cli login --token {}", "hub token {}"], ["hf_token", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"]),
        "npm_token": (V.npm_token, ["//registry.npmjs.org/:_authToken={}", "NPM_TOKEN={}"], ["npm_token", "NPM_TOKEN", "_authToken"]),
        "pypi_token": (V.pypi_token, ["twine upload -u __token__ -p {}", "PYPI_TOKEN={}"], ["pypi_token", "TWINE_PASSWORD", "PYPI_API_TOKEN"]),
        "ward_api_key": (V.ward_api_key, ["WARD_API_KEY={}", "ingest key {} rejected: revoked", "created key {}"], ["ward_api_key", "WARD_API_KEY", "x-ward-key"]),
    }
    if typ in simple:
        gen, phrases, keys = simple[typ]
        # aws_secret_key and twilio_key have no format of their own: by the context rule (README) they
        # are only labelled next to their keyword, so their chat lines name it too.  Same number of
        # templates for every type, so the random stream (and every other line) is unchanged.
        chat = {"aws_secret_key": ["here's my aws_secret_access_key {} - is it safe to share?",
                                   "I accidentally pasted AWS_SECRET_ACCESS_KEY={} in the chat"],
                "twilio_key": ["here's my Twilio API key {} - is it safe to share?",
                               "I accidentally pasted my twilio key {} in the chat"]}.get(
            typ, ["here's my key {} - is it safe to share?", "I accidentally pasted {} in the chat"])
        return Item(typ, v(gen(r)), phrases, keys, chat=chat)
    if typ == "jwt":
        tok = V.jwt(r, c.en)
        return Item(typ, v(tok), ["id_token={}", "Set-Cookie: session={}; Path=/; HttpOnly", "verifying JWT {}", "Authorization: Bearer {}",
                                  "GET /callback?access_token={}"], ["id_token", "jwt", "access_token", "session"], "token")
    if typ == "private_key":
        return Item(typ, v(V.private_key(r)), ["loaded key {}", "SSH_PRIVATE_KEY={}", "PEM parse ok: {}"], ["private_key", "ssh_key", "tls.key", "PRIVATE_KEY"])

    # --- secrets identified by their context ------------------------------------------------
    if typ == "azure_storage_key":
        acct = V.rstr(r, V.LOWER, 10)
        parts = [T(f"DefaultEndpointsProtocol=https;AccountName={acct};AccountKey="), L(V.azure_storage_key(r), typ),
                 T(";EndpointSuffix=core.windows.net")]
        return Item(typ, parts, ["storage connection string {}", "AZURE_STORAGE_CONNECTION_STRING={}", "blob client from {}"],
                    ["AZURE_STORAGE_CONNECTION_STRING", "storage_connection_string"])
    if typ == "azure_sas":
        acct = V.rstr(r, V.LOWER, 10)
        parts = [T(f"https://{acct}.blob.core.windows.net/exports/{c.en.file_name(extension='csv')}?sv=2022-11-02&ss=b&srt=co&sp=rl"
                   f"&se=2024-06-0{r.randint(1, 9)}T00:00:00Z&spr=https&sig="), L(V.azure_sas_sig(r), typ)]
        return Item(typ, parts, ["downloading {}", "PUT {} 201", "SAS url {}"], ["sas_url", "blob_url", "download_url"])
    if typ == "slack_webhook":
        pre, sec = V.slack_webhook_parts(r)
        return Item(typ, [T(pre), L(sec, typ)], ["POST {} 200 ok", "alert webhook {}", "SLACK_WEBHOOK_URL={}"], ["slack_webhook_url", "webhook_url"])
    if typ == "url_credentials":
        user = r.choice(["admin", "deploy", "ci", c.en.user_name(), "oauth2", "svc-backup"])
        pw = V.human_password(r, c.en, url_safe=True)
        host = r.choice(["git.internal.acme.io/platform/infra.git", "artifactory.acme.io/api/pypi/simple/", "proxy.corp.local:3128",
                         "ftp.partner-files.com/outbound/", "registry.acme.io/v2/", "jenkins.acme.io/job/deploy/build"])
        scheme = r.choice(["https://", "https://", "http://", "ftp://"])
        parts = [T(scheme), L(f"{user}:{pw}", typ), T("@" + host)]
        return Item(typ, parts, ["cloning {}", "fetching {} failed: 401", "HTTP_PROXY={}", "GET {} 200"], ["repo_url", "proxy", "url", "index_url"])
    if typ == "connection_string":
        pw = V.human_password(r, c.en, url_safe=True)
        db = r.choice(["orders", "users", "analytics", "ward", "billing"])
        k = r.randrange(6)
        if k == 0:
            pre, post = f"postgres://{r.choice(['app', 'postgres', 'readonly'])}:", f"@db-{r.choice(['primary', 'replica-2'])}.internal:5432/{db}?sslmode=require"
        elif k == 1:
            pre, post = f"postgresql://{db}_rw:", f"@{db}.cluster-c8x2k.eu-west-1.rds.amazonaws.com:5432/{db}"
        elif k == 2:
            pre, post = f"mongodb+srv://{c.en.user_name()}:", f"@cluster0.{V.rstr(r, V.LOWER + V.DIGITS, 5)}.mongodb.net/{db}?retryWrites=true&w=majority"
        elif k == 3:
            pre, post = r.choice(["redis://:", "rediss://default:"]), f"@cache.internal:6379/0"
        elif k == 4:
            pre, post = f"mysql://{db}:", "@mysql-0.mysql.svc.cluster.local:3306/" + db
        else:
            pre, post = f"amqp://{r.choice(['guest', 'worker', 'celery'])}:", "@rabbitmq:5672/%2F"
        return Item(typ, [T(pre), L(pw, typ), T(post)], ["connecting to {}", "DATABASE_URL={}", "pool init dsn={}", "could not connect to {}: timeout"],
                    ["database_url", "dsn", "db.connection_string", "MONGO_URI", "REDIS_URL", "broker_url"])
    if typ == "authorization_header":
        if r.random() < 0.7:
            tok = r.choice([V.rstr(r, V.B64URL, r.randint(32, 64)), V.rstr(r, V.HEX, 40), V.rstr(r, V.ALNUM, 43)])
            parts = [T("Bearer "), L(tok, typ)]
        else:
            basic = base64.b64encode(f"{c.en.user_name()}:{V.human_password(r, c.en)}".encode()).decode()
            parts = [T("Basic "), L(basic, typ)]
        return Item(typ, parts, ["Authorization: {}", "request headers: (Host: api.acme.io, Authorization: {})",
                                 "curl -H 'Authorization: {}' https://api.acme.io/v1/me", "Proxy-Authorization: {}"],
                    ["authorization", "Authorization", "http.request.header.authorization"])
    if typ == "password_assignment":
        pw = V.human_password(r, c.en)
        return Item(typ, v(pw), ["login failed for user=bob password={}", "password={}", "PGPASSWORD={} psql -h db", "db_pass: {}",
                                 "smtp auth password {}", "set new_password={} for user"],
                    ["password", "passwd", "pwd", "db_password", "new_password", "smtp_password", "Password"])
    if typ == "generic_secret":
        return Item(typ, v(V.high_entropy(r)), ["client_secret={}", "api_key: {}", "X-Api-Key: {}", "signing_key={}", "webhook secret {}",
                                                "token={}", "secret_key = {}"],
                    ["client_secret", "api_key", "apiKey", "secret", "secret_key", "app_secret", "access_token", "refresh_token",
                     "webhook_secret", "encryption_key", "x-api-key"])
    raise KeyError(typ)


# ----------------------------------------------------------------------------------------------
# Types and weights
# ----------------------------------------------------------------------------------------------

TYPES = json.loads((HERE / "types.json").read_text())

WEIGHTS = {t: 1.0 for t in TYPES}
WEIGHTS.update({"email": 4, "phone": 4, "ipv4": 2, "ipv6": 1.5, "credit_card": 3, "jwt": 2, "password_assignment": 3,
                "generic_secret": 3, "authorization_header": 2.5, "url_credentials": 1.5, "connection_string": 2,
                "aws_access_key_id": 1.5, "openai_key": 1.5, "anthropic_key": 1.5, "iban": 1.5, "us_ssn": 1.5,
                "private_key": 0.8, "github_token": 1.5})
TYPE_LIST = list(TYPES)


def pick_types(c: Ctx, n):
    return c.rng.choices(TYPE_LIST, weights=[WEIGHTS[t] for t in TYPE_LIST], k=n)


# ----------------------------------------------------------------------------------------------
# Clean messages (decoys only)
# ----------------------------------------------------------------------------------------------


def clean_message(c: Ctx, d: Decoys):
    r = c.rng
    k = r.randrange(34)
    m = r.choice(["GET", "POST", "PUT", "DELETE"])
    if k == 0:
        return [T(f"{m} /api/v2/orders/"), d.order_id(), T(f" {r.choice([200, 201, 204, 404, 409])} size="), d.bytes(), T(" in "), d.duration()]
    if k == 1:
        return [T(f"deployed {r.choice(SERVICES)} version "), d.version(), T(" (commit "), d.git_sha(), T(")")]
    if k == 2:
        return [T("pod "), d.pod(), T(" restarted (exit code 137, restarts="), T(str(r.randint(1, 9))), T(")")]
    if k == 3:
        return [T(f"cache {r.choice(['hit', 'miss'])} key=sha256:"), d.sha256()]
    if k == 4:
        return [T("uploaded s3://ward-archive/"), d.s3_key(), T(" etag="), d.md5(), T(" size="), d.bytes()]
    if k == 5:
        return [T("job "), d.uuid(), T(" scheduled at "), d.iso_ts(), T(" (epoch_ms="), d.epoch_ms(), T(")")]
    if k == 6:
        return [T(f"processed batch of {r.randint(1, 5000)} records in "), d.duration()]
    if k == 7:
        return [T("reference_number="), d.luhn_invalid(), T(" reconciliation pending")]
    if k == 8:
        return [T("claim ref "), d.invalid_ssn(), T(" escalated to tier 2")]
    if k == 9:
        return [T("pulled image registry.acme.io/ward@sha256:"), d.sha256()]
    if k == 10:
        return [T("resolved "), d.npm_pkg(), T(", "), d.npm_pkg()]
    if k == 11:
        return [T(f"connected to db-primary.internal:"), d.port(), T(f" (pool size {r.choice([10, 20, 50])})")]
    if k == 12:
        return [T("exported span "), d.span_id(), T(" of trace "), d.trace_id()]
    if k == 13:
        return [T("merged "), d.git_sha(short=True), T(f" into main by {c.en.user_name()}")]
    if k == 14:
        return [T("GC pause "), d.duration(), T(", heap "), d.bytes(), T(" / "), d.bytes()]
    if k == 15:
        return [T("session expires_at="), d.epoch_s()]
    if k == 16:
        return [T("assumed arn:aws:iam::"), d.aws_account(), T(f":role/{r.choice(['deploy', 'ci', 'read-only'])}")]
    if k == 17:
        return [T("container "), d.container(), T(" started")]
    if k == 18:
        return [T("request_id="), d.ulid(), T(" handled in "), d.duration()]
    if k == 19:
        return [T("stripe customer "), d.stripe_obj(), T(" charge "), d.stripe_obj(), T(" succeeded")]
    if k == 20:
        return [T("next page cursor="), d.base64_blob()]
    if k == 21:
        return [T("asset "), d.file_at(), T(" served from cache")]
    if k == 22:
        return [T("segfault at "), d.mem_addr(), T(" in "), d.cpp_symbol()]
    if k == 23:
        return [T("maintenance window "), d.clock(), T("-"), d.clock(), T(" UTC")]
    if k == 24:
        return [T("user agent "), d.user_agent()]
    if k == 25:
        return [T(f"llm call model={r.choice(['gpt-4o-mini', 'claude-3-5-sonnet', 'llama-3.1-70b'])} max_tokens="), d.token_count(),
                T(" prompt_tokens="), d.token_count(), T(" completion_tokens="), d.token_count()]
    if k == 26:
        return [T(r.choice(["password reset email queued for user_id=", "password_changed=true user_id=", "invalid password attempt #3 for user_id="])),
                T(str(r.randint(1, 10**6)))]
    if k == 27:
        return [T(r.choice(["password=", "db_password: ", "api_key=", "client_secret="])), d.masked(), T(" (masked)")]
    if k == 28:
        return [T("mounted secret_name="), d.k8s_secret(), T(" at /var/run/secrets/app")]
    if k == 29:
        return [T("authorized_keys entry "), d.public_key()]
    if k == 30:
        return [T("loaded CA bundle "), d.certificate()]
    if k == 31:
        return [T("traceparent: 00-"), d.trace_id(), T("-"), d.span_id(), T("-01")]
    if k == 32:
        return [T("checksum sha1="), d.sha1(), T(" md5="), d.md5()]
    return [T(f"retrying in {r.randint(1, 30)}s (attempt {r.randint(1, 5)}/5), timeout after "), d.duration()]


# Types whose value identifies itself (format, prefix or checksum with a distinctive layout): they may
# appear without a keyword.  Every other type is always written with its context keyword, since no
# scrubber can be expected to tell a bare 9-digit number from any other.
BARE_OK = {"email", "credit_card", "iban", "bitcoin_address", "ethereum_address", "uk_nino", "it_codice_fiscale", "es_nie",
           "fi_hetu", "se_personnummer", "ipv4", "ipv6", "mac_address", "openai_key", "anthropic_key", "aws_access_key_id",
           "gcp_api_key", "azure_storage_key", "azure_sas", "github_token", "gitlab_token", "slack_token", "slack_webhook",
           "stripe_key", "sendgrid_key", "huggingface_token", "npm_token", "pypi_token", "ward_api_key", "jwt", "private_key",
           "url_credentials", "connection_string", "authorization_header"}


def bare_or_phrase(c: Ctx, it: Item, templates):
    if it.type in BARE_OK:
        return fill(c.rng.choice(templates), it.parts)
    return it.phrase(c.rng)


def message(c: Ctx, d: Decoys, items, chatty=False):
    """A log message carrying the items as phrases (or a clean message if none)."""
    r = c.rng
    if not items:
        return clean_message(c, d)
    chunks = [it.phrase(r, chatty) for it in items]
    out = join(r.choice([", ", "; ", " - "]), chunks)
    if r.random() < 0.4:
        out = out + [T(" (took ")] + [d.duration()] + [T(")")]
    return out


# ----------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------


def split_items(c, items, p_kv):
    kv, phr = [], []
    for it in items:
        (kv if c.rng.random() < p_kv else phr).append(it)
    return kv, phr


def shape_plain(c: Ctx, d: Decoys, items):
    r = c.rng
    msg = message(c, d, items)
    svc = r.choice(SERVICES)
    style = r.randrange(3)
    if style == 0:
        head = [d.iso_ts(0), T(f" {r.choice(LEVELS):5} [{svc}] ")]
    elif style == 1:
        head = [d.iso_ts(1), T(f" {r.choice(LEVELS)} {svc}.{r.choice(['views', 'tasks', 'client', 'handlers'])}:"), d.line_no(), T(" - ")]
    else:
        head = [d.iso_ts(3), T(" "), D(f"ip-10-0-{r.randint(0, 255)}-{r.randint(0, 255)}", "hostname"), T(f" {svc}["), T(str(r.randint(100, 65000))), T("]: ")]
    return esc_plain(head + msg)


def shape_logfmt(c: Ctx, d: Decoys, items):
    r = c.rng
    kv, phr = split_items(c, items, 0.5)
    fields = [[T("ts="), d.iso_ts()], [T(f"level={r.choice(LEVELS).lower()}")], [T(f"service={r.choice(SERVICES)}")],
              [T("trace_id="), d.trace_id()], [T("span_id="), d.span_id()]]
    fields.append(logfmt_kv("msg", message(c, d, phr) if (phr or not kv) else [T(r.choice(["request", "auth", "config loaded", "outbound call"]))]))
    for it in kv:
        fields.append(logfmt_kv(it.key(r), it.parts))
    fields.append([T("duration_ms="), d.duration_num()])
    return esc_plain(join(" ", fields))


def shape_json(c: Ctx, d: Decoys, items):
    r = c.rng
    kv, phr = split_items(c, items, 0.5)
    fields = [json_kv("timestamp", [d.iso_ts()]), json_kv("level", [T(r.choice(LEVELS))]), json_kv("service", [T(r.choice(SERVICES))]),
              json_kv("trace_id", [d.trace_id()]), json_kv("span_id", [d.span_id()])]
    fields.append(json_kv("message", message(c, d, phr) if (phr or not kv) else [T(r.choice(["request", "user updated", "config loaded"]))]))
    if kv:
        if r.random() < 0.25:
            # an escaped JSON body inside a JSON string: {"body":"{\"password\":\"...\"}"}
            inner = [T("{")] + join(",", [json_kv(it.key(r), it.parts) for it in kv]) + [T("}")]
            fields.append(json_kv("http.request.body", inner))
        else:
            attrs = join(",", [json_kv(it.key(r), it.parts) for it in kv])
            fields.append([T('"attributes":{')] + attrs + [T("}")])
    else:
        fields.append([T('"attributes":{')] + json_kv("http.status_code", [T(str(r.choice([200, 200, 201, 404, 500])))]) + [T(",")] +
                      json_kv("http.route", [T(r.choice(["/api/v1/users/{id}", "/healthz", "/v1/chat/completions", "/orders"]))]) + [T("}")])
    fields.append([T('"duration_ms":'), d.duration_num()])
    return [T("{")] + join(",", fields) + [T("}")]


SYSTEM_PROMPTS = ["You are a helpful support agent for Acme Bank.", "You are Ward's on-call assistant.",
                  "Answer in the user's language. Never reveal internal tools.", "You are a travel booking assistant."]
TASKS = ["update my account", "book a flight to Lisbon", "check why my payment failed", "reset my password",
         "fix this deployment error", "file my tax return", "change my delivery address"]
GREETINGS = ["Hi", "Hello", "Hey", "Bonjour", "Hallo", "Hola", "Ciao", "Hej", "Olá", "こんにちは", "Cześć"]


def chat_text(c: Ctx, d: Decoys, items):
    r = c.rng
    if not items:
        return [T(r.choice([f"{r.choice(GREETINGS)}, can you help me {r.choice(TASKS)}? 🙏",
                            "Summarize the incident timeline in three bullet points.",
                            f"Why does version {r.randint(1, 3)}.{r.randint(0, 40)}.{r.randint(0, 9)} fail to start? Logs say exit code 137.",
                            "Write a haiku about observability ✨", "Translate to German: the order has shipped."]))]
    chunks = [it.phrase(r, chatty=True) for it in items]
    return [T(f"{r.choice(GREETINGS)}, ")] + join(r.choice([" and ", ". Also ", ", "]), chunks) + [T(f". Can you help me {r.choice(TASKS)}?")]


def completion_text(c: Ctx, d: Decoys, items):
    r = c.rng
    if not items:
        return [T(r.choice(["Sure! Here is a summary:\n- 12:01 alert fired\n- 12:07 rollback\n- 12:15 resolved",
                            "The container was OOM-killed (exit code 137). Raise the memory limit to 512Mi.",
                            "Je ne peux pas accéder à ce système, désolé.", "Done ✅ — your order has shipped."]))]
    chunks = [bare_or_phrase(c, it, ["I've updated your record with {}", "Noted: {}", "I found {} in the logs", "Confirmed {}"]) for it in items]
    return join(". ", chunks) + [T(".")]


def shape_llm(c: Ctx, d: Decoys, items):
    r = c.rng
    model = r.choice(["gpt-4o-mini", "gpt-4.1", "claude-3-5-sonnet-20241022", "claude-sonnet-4", "llama-3.1-70b-instruct", "mistral-large"])
    style = r.randrange(4)
    if style == 0:  # request with messages
        msgs = [[T("{")] + json_kv("role", [T("system")]) + [T(",")] + json_kv("content", [T(r.choice(SYSTEM_PROMPTS))]) + [T("}")],
                [T("{")] + json_kv("role", [T("user")]) + [T(",")] + json_kv("content", chat_text(c, d, items)) + [T("}")]]
        body = [T('{"ts":'), d.epoch_ms(), T(',"event":"llm.request",'), *json_kv("model", [T(model)]), T(","),
                *json_kv("trace_id", [d.trace_id()]), T(',"messages":[')] + join(",", msgs) + [T("]}")]
        return body
    if style == 1:  # response
        return ([T('{"ts":'), d.epoch_ms(), T(',"event":"llm.response",'), *json_kv("model", [T(model)]), T(","),
                 *json_kv("completion", completion_text(c, d, items)), T(',"usage":{"input_tokens":'), d.token_count(),
                 T(',"output_tokens":'), d.token_count(), T("}}")])
    if style == 2 and items:  # tool call with JSON-encoded arguments (double escaping)
        args = [T("{")] + join(",", [json_kv(it.key(r), it.parts) for it in items]) + [T("}")]
        call = ([T('{"id":"'), D("call_" + V.rstr(r, V.ALNUM, 24), "tool_call_id"), T('","type":"function","function":{'),
                 *json_kv("name", [T(r.choice(["lookup_customer", "update_profile", "create_payment", "send_email"]))]), T(","),
                 *json_kv("arguments", args), T("}}")])
        return ([T('{"ts":'), d.epoch_ms(), T(',"event":"llm.tool_call",'), *json_kv("model", [T(model)]), T(',"tool_calls":[')]
                + call + [T("]}")])
    # logfmt-style prompt/completion pair
    return esc_plain([T("ts="), d.iso_ts(), T(f" event=llm.completion model={model} ")] + logfmt_kv("prompt", chat_text(c, d, items))
                     + [T(" ")] + logfmt_kv("completion", completion_text(c, d, []))
                     + [T(" latency_ms="), d.duration_num()])


PY_MODS = ["/srv/app/payments/charge.py", "/usr/lib/python3.11/site-packages/httpx/_client.py", "/srv/app/agents/tools.py",
           "/srv/app/db/session.py", "/app/.venv/lib/python3.12/site-packages/sqlalchemy/engine/base.py"]
PY_EXC = ["ValueError", "KeyError", "psycopg2.OperationalError", "httpx.HTTPStatusError", "PermissionError", "RuntimeError"]
JAVA_FRAMES = ["com.acme.billing.CardService.charge(CardService.java:{})", "com.acme.kyc.IdentityVerifier.verify(IdentityVerifier.java:{})",
               "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:{})",
               "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:{})",
               "org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:{})"]
JAVA_EXC = ["java.lang.IllegalStateException", "java.lang.IllegalArgumentException", "org.postgresql.util.PSQLException",
            "javax.security.auth.login.LoginException", "com.acme.kyc.VerificationException"]
JS_FRAMES = ["processPayment (/app/src/payments.js:{}:{})", "Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:{}:{})",
             "async Promise.all (index 0)", "Object.<anonymous> (/app/dist/server.js:{}:{})", "sendEmail (/app/src/mailer.ts:{}:{})"]


def stack_trace(c: Ctx, d: Decoys, items):
    r = c.rng
    lang = r.randrange(3)
    msg = (join(", ", [bare_or_phrase(c, it, ["invalid value {}", "rejected {}", "{}", "lookup failed for {}"]) for it in items])
           if items else [T(r.choice(["connection reset by peer", "deadline exceeded", "index out of range", "unexpected EOF"]))])
    out = []
    if lang == 0:
        out.append(T("Traceback (most recent call last):\n"))
        for _ in range(r.randint(2, 4)):
            out += [T(f'  File "{r.choice(PY_MODS)}", line '), d.line_no(), T(f", in {r.choice(['charge', 'send', '_request', 'execute', 'run_tool'])}\n"),
                    T(f"    {r.choice(['return self._send(request)', 'cursor.execute(sql, params)', 'raise ValueError(msg)', 'result = tool(**args)'])}\n")]
        out += [T(f"{r.choice(PY_EXC)}: ")] + msg
    elif lang == 1:
        out += [T(f"{r.choice(JAVA_EXC)}: ")] + msg
        for _ in range(r.randint(2, 5)):
            fr = r.choice(JAVA_FRAMES)
            pre, post = fr.split("{}")
            out += [T("\n\tat " + pre), d.line_no(), T(post)]
        if r.random() < 0.4:
            out += [T(f"\nCaused by: java.net.SocketTimeoutException: connect timed out after "), d.duration()]
    else:
        out += [T(f"{r.choice(['Error', 'TypeError', 'FetchError'])}: ")] + msg
        for _ in range(r.randint(2, 5)):
            fr = r.choice(JS_FRAMES)
            bits = fr.split("{}")
            out.append(T("\n    at " + bits[0]))
            for b in bits[1:]:
                out += [d.line_no(), T(b)]
    return out


def shape_stack(c: Ctx, d: Decoys, items):
    r = c.rng
    st = stack_trace(c, d, items)
    if r.random() < 0.5:
        return esc_plain([d.iso_ts(), T(f" ERROR [{r.choice(SERVICES)}] unhandled exception: ")] + st)
    return ([T("{")] + join(",", [json_kv("timestamp", [d.iso_ts()]), json_kv("level", [T("ERROR")]), json_kv("trace_id", [d.trace_id()]),
                                  json_kv("exception.stacktrace", st)]) + [T("}")])


def shape_access(c: Ctx, d: Decoys, items):
    """Access log / outbound URL / connection-string records."""
    r = c.rng
    ips = [it for it in items if it.type in ("ipv4", "ipv6")]
    rest = [it for it in items if it not in ips]
    urlish = any(it.type in URL_TYPES for it in rest)
    if ips or (not urlish and r.random() < 0.6):
        client = ips.pop(0).parts if ips else [L(V.ipv4(r), "ipv4")]
        path = r.choice(["/api/v1/users", "/login", "/v1/chat/completions", "/static/app.js", "/search", "/webhooks/stripe"])
        simple = [it for it in rest if not any(ch in text_of(it.parts) for ch in " \n&#?") and it.type not in URL_TYPES]
        extra = [it for it in rest if it not in simple]
        q = [[T(it.key(r).replace(".", "_") + "=")] + it.parts for it in simple]
        if not q and r.random() < 0.5:
            q = [[T("page=" + str(r.randint(1, 40)))], [T("cursor="), d.base64_blob()]]
        target = [T(path)] + ([T("?")] + join("&", q) if q else [])
        line = client + [T(" - - ["), d.iso_ts(2), T(f'] "{r.choice(["GET", "POST"])} ')] + target + [
            T(f' HTTP/1.1" {r.choice([200, 200, 302, 401, 404, 500])} '), d.bytes(), T(' "-" "'), d.user_agent(), T('" rt='), d.duration()]
        for it in ips:  # a second address: X-Forwarded-For
            line += [T(" xff=")] + it.parts
        for it in extra:
            line += [T(" ")] + logfmt_kv(it.key(r), it.parts)
        return esc_plain(line)
    if not rest:
        return esc_plain([d.iso_ts(), T(f" INFO [{r.choice(SERVICES)}] upstream https://api.partner.io/v2/quotes?id="), d.uuid(),
                          T(" returned 200 in "), d.duration()])
    line = [d.iso_ts(), T(f" {r.choice(['INFO', 'WARN', 'DEBUG'])} [{r.choice(SERVICES)}] ")]
    line += join(" ; ", [it.phrase(r) for it in rest])
    return esc_plain(line)


URL_TYPES = {"url_credentials", "connection_string", "slack_webhook", "azure_sas", "ipv4", "ipv6"}
SHAPES = [("plain", shape_plain, 0.22), ("logfmt", shape_logfmt, 0.2), ("json", shape_json, 0.24), ("llm", shape_llm, 0.14),
          ("stacktrace", shape_stack, 0.08), ("access_url", shape_access, 0.12)]


def make_line(c: Ctx, d: Decoys, dirty_p):
    r = c.rng
    items = []
    if r.random() < dirty_p:
        n = r.choices([1, 2, 3], weights=[60, 28, 12])[0]
        items = [item_for(c, t) for t in pick_types(c, n)]
    if items and any(it.type in URL_TYPES for it in items) and r.random() < 0.5:
        shape = ("access_url", shape_access)
    else:
        name, fn, _ = r.choices(SHAPES, weights=[w for _, _, w in SHAPES])[0]
        shape = (name, fn)
    parts = shape[1](c, d, items)
    return shape[0], parts


def render(parts):
    """-> (text, labels[(start,end,type)], decoys[(start,end,kind)]) with UTF-8 byte offsets."""
    out, labels, decoys, pos = [], [], [], 0
    for t, tag in parts:
        b = t.encode("utf-8")
        if tag and b:
            kind, name = tag.split(":", 1)
            (labels if kind == "L" else decoys).append((pos, pos + len(b), name))
        out.append(t)
        pos += len(b)
    text = "".join(out)
    assert "\n" not in text and "\r" not in text, text[:200]
    return text, labels, decoys


# ----------------------------------------------------------------------------------------------
# Self-check
# ----------------------------------------------------------------------------------------------


def unescape_value(raw: str, line: str, start: int) -> list[str]:
    """Candidate plain values of a labelled span (it may sit inside one or two levels of JSON
    or logfmt escaping)."""
    cands = [raw]
    cur = raw
    for _ in range(2):
        if "\\" not in cur:
            break
        try:
            cur = json.loads('"' + cur + '"')
            cands.append(cur)
        except json.JSONDecodeError:
            break
    return cands


def self_check(corpus: Path, labels_path: Path, decoys_path: Path):
    lines = corpus.read_bytes().split(b"\n")
    per = collections.defaultdict(lambda: [0, 0])
    failures = []
    for rec in map(json.loads, labels_path.open()):
        raw = lines[rec["line"]][rec["start"]:rec["end"]].decode("utf-8")
        ok = None
        for cand in unescape_value(raw, "", 0):
            res = V.validate(rec["type"], cand)
            if res is None:
                ok = None
                break
            if res:
                ok = True
                break
            ok = False
        if ok is None:
            continue
        per[rec["type"]][0] += 1
        per[rec["type"]][1] += bool(ok)
        if not ok and len(failures) < 20:
            failures.append({"type": rec["type"], "line": rec["line"], "value": raw[:120]})
    # Decoys that must NOT validate.
    dec = collections.defaultdict(lambda: [0, 0])
    for rec in map(json.loads, decoys_path.open()):
        raw = lines[rec["line"]][rec["start"]:rec["end"]].decode("utf-8")
        if rec["kind"] == "luhn_invalid_16":
            dec["luhn_invalid_16 fails Luhn"][0] += 1
            dec["luhn_invalid_16 fails Luhn"][1] += not V.luhn.is_valid(raw)
        elif rec["kind"] == "invalid_ssn":
            dec["invalid_ssn fails SSN and ITIN"][0] += 1
            dec["invalid_ssn fails SSN and ITIN"][1] += not (V.std_ssn.is_valid(raw.replace("-", "")) or V.itin_valid(raw))
    result = {
        "validated_types": {t: {"validator": V.VALIDATORS[t][0], "checked": n, "valid": k, "pass_rate": round(k / n, 6) if n else None}
                            for t, (n, k) in sorted(per.items())},
        "total_checked": sum(n for n, _ in per.values()),
        "total_valid": sum(k for _, k in per.values()),
        "decoys_invalid_as_intended": {k: {"checked": n, "ok": m} for k, (n, m) in dec.items()},
        "unvalidated_types": sorted(t for t in TYPES if t not in V.VALIDATORS),
        "failures": failures,
    }
    result["pass_rate"] = round(result["total_valid"] / max(1, result["total_checked"]), 6)
    return result


# ----------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dirty", type=float, default=0.30, help="probability that a record carries labelled values (default 0.30; "
                    "access-log records always carry a client IP, so the clean share ends near 65%%)")
    ap.add_argument("--out", type=Path, default=HERE / "corpus")
    ap.add_argument("--no-self-check", action="store_true")
    a = ap.parse_args(argv)

    assert V._selftest()
    c = Ctx(a.seed)
    d = Decoys(c)
    a.out.mkdir(parents=True, exist_ok=True)
    corpus, labels_p, decoys_p = a.out / "corpus.txt", a.out / "labels.jsonl", a.out / "decoys.jsonl"
    n_labels, n_decoys = collections.Counter(), collections.Counter()
    shapes, clean, nbytes = collections.Counter(), 0, 0
    with corpus.open("w", encoding="utf-8", newline="\n") as fc, labels_p.open("w") as fl, decoys_p.open("w") as fd:
        for i in range(a.lines):
            shape, parts = make_line(c, d, a.dirty)
            text, labels, decoys = render(parts)
            # labels never overlap each other; decoys never overlap labels
            spans = sorted(labels)
            assert all(spans[j][1] <= spans[j + 1][0] for j in range(len(spans) - 1)), (i, spans)
            fc.write(text + "\n")
            nbytes += len(text.encode()) + 1
            shapes[shape] += 1
            clean += not labels
            for s, e, t in labels:
                fl.write(json.dumps({"line": i, "start": s, "end": e, "type": t}) + "\n")
                n_labels[t] += 1
            for s, e, k in decoys:
                fd.write(json.dumps({"line": i, "start": s, "end": e, "kind": k}) + "\n")
                n_decoys[k] += 1
    stats = {"seed": a.seed, "lines": a.lines, "bytes": nbytes, "clean_lines": clean, "clean_share": round(clean / a.lines, 4),
             "labels": sum(n_labels.values()), "labels_per_type": dict(sorted(n_labels.items())),
             "types_without_labels": sorted(t for t in TYPES if t not in n_labels),
             "decoys": sum(n_decoys.values()), "decoys_per_kind": dict(sorted(n_decoys.items())), "shapes": dict(sorted(shapes.items()))}
    (a.out / "stats.json").write_text(json.dumps(stats, indent=1, ensure_ascii=False) + "\n")
    print(f"corpus: {a.lines} lines, {nbytes} bytes, {stats['clean_share']:.1%} clean, {stats['labels']} labels "
          f"({len(n_labels)} types), {stats['decoys']} decoys -> {a.out}", file=sys.stderr)
    if not a.no_self_check:
        sc = self_check(corpus, labels_p, decoys_p)
        (a.out / "selfcheck.json").write_text(json.dumps(sc, indent=1, ensure_ascii=False) + "\n")
        bad = {t: v for t, v in sc["validated_types"].items() if v["pass_rate"] != 1}
        print(f"self-check: {sc['total_valid']}/{sc['total_checked']} labelled values pass their validator "
              f"({sc['pass_rate']:.2%}); failing types: {bad or 'none'}; decoys: "
              + ", ".join(f"{k} {v['ok']}/{v['checked']}" for k, v in sc["decoys_invalid_as_intended"].items()), file=sys.stderr)
        if bad:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
