//! One test per kind: true positives (literal examples and generated valid instances, with the
//! exact span expected) and false positives (near misses that must produce no finding at all,
//! under the `strict` profile where every detector is on).

mod common;

use common::{Rng, plant};
use ward_redact::{Kind, Profile, Redactor};

fn strict() -> Redactor {
    Redactor::builtin(Profile::Strict)
}

fn describe(text: &str) -> Vec<(String, String, String)> {
    strict()
        .find(text)
        .iter()
        .map(|f| {
            (
                f.kind.to_string(),
                text[f.range()].to_string(),
                f.detector.to_string(),
            )
        })
        .collect()
}

#[track_caller]
fn finds(kind: &Kind, text: &str, value: &str) {
    let findings = strict().find(text);
    assert!(
        findings
            .iter()
            .any(|f| f.kind == *kind && &text[f.range()] == value),
        "expected {kind} {value:?} in {text:?}; got {:?}",
        describe(text)
    );
    for f in &findings {
        assert!(
            f.detector.is_custom()
                || ward_redact::detectors()
                    .iter()
                    .any(|d| d.id == f.detector.as_str() && d.kind == f.kind),
            "detector {} ({}) is not in the catalog",
            f.detector,
            f.kind
        );
    }
    let out = strict().redact_str(text);
    assert!(
        !out.text.contains(value),
        "{value:?} survived in {:?}",
        out.text
    );
}

#[track_caller]
fn clean(text: &str) {
    let got = describe(text);
    assert!(
        got.is_empty(),
        "expected no finding in {text:?}; got {got:?}"
    );
}

/// Generated valid instances are found with the exact span.
#[track_caller]
fn generated(kind: &Kind) {
    let mut rng = Rng::new(kind.as_str().bytes().map(u64::from).sum::<u64>() * 7919);
    let mut n = 0;
    for _ in 0..400 {
        let Some(p) = plant(kind, &mut rng) else {
            continue;
        };
        finds(kind, &format!("log: {} done", p.text), &p.secret);
        n += 1;
        if n == 30 {
            break;
        }
    }
    assert!(n >= 10, "generator for {kind} produced only {n} instances");
}

macro_rules! detector {
    ($name:ident, $kind:expr, tp: [$(($t:expr, $v:expr $(,)?)),* $(,)?], fp: [$($f:expr),* $(,)?] $(,)?) => {
        #[test]
        fn $name() {
            let kind = $kind;
            $( finds(&kind, $t, $v); )*
            $( clean($f); )*
            generated(&kind);
        }
    };
}

// ---------------------------------------------------------------- contact

detector!(email, Kind::Email,
    tp: [
        ("contact jane.doe@example.com today", "jane.doe@example.com"),
        ("<a.b+tag@mail.co.uk>", "a.b+tag@mail.co.uk"),
        ("{\"email\":\"x_y@sub.domain.io\"}", "x_y@sub.domain.io"),
        ("mailto:ops@corp.example.", "ops@corp.example"),
    ],
    fp: ["icon@2x.png", "git by user@localhost", "npm i @scope/pkg@1.2.3", "image@sha256:deadbeef", "@decorator.call()", "a@b"],
);

detector!(phone, Kind::Phone,
    tp: [
        ("call +1 415-555-2671 now", "+1 415-555-2671"),
        ("tel: (415) 555-2671", "(415) 555-2671"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("uk +44 (0) 20 7946 0958.", "+44 (0) 20 7946 0958"),
        ("+33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("+49 30 12345678", "+49 30 12345678"),
        ("+91 98765 43210", "+91 98765 43210"),
        ("+61 412 345 678", "+61 412 345 678"),
        ("+81 90-1234-5678", "+81 90-1234-5678"),
        ("+55 11 91234-5678", "+55 11 91234-5678"),
        ("+34 612 34 56 78", "+34 612 34 56 78"),
        ("+39 347 123 4567", "+39 347 123 4567"),
        ("+31 6 12345678", "+31 6 12345678"),
        ("uk 020 7946 0958", "020 7946 0958"),
        ("fr 06 12 34 56 78", "06 12 34 56 78"),
        ("de 030 12345678", "030 12345678"),
        ("jp 090-1234-5678", "090-1234-5678"),
        ("br (11) 91234-5678", "(11) 91234-5678"),
        ("phone=4155552671", "4155552671"),
        ("au tel=\"(02) 2293 4586\"", "(02) 2293 4586"),
        ("de SMS sent to 039308 823.", "039308 823"),
        ("in phone=\"071309 57190\"", "071309 57190"),
        ("es verified phone 876 09 04 02", "876 09 04 02"),
        ("+14155552671", "+14155552671"),
    ],
    fp: ["epoch 1714567890", "tz +0200", "port 5432", "at 2024-05-01 12:34:56", "took 4155552671 ns", "+1 123-555-2671", "id 01-02-2024 10", "on 031224 1530"],
);

// ---------------------------------------------------------------- financial

detector!(credit_card, Kind::CreditCard,
    tp: [
        ("card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
        ("pan=4111-1111-1111-1111;", "4111-1111-1111-1111"),
        ("5555555555554444", "5555555555554444"),
        ("amex 378282246310005", "378282246310005"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
        ("discover 6011111111111117", "6011111111111117"),
        ("jcb 3530111333300000", "3530111333300000"),
        ("diners 36227206271667", "36227206271667"),
        ("(4242424242424242)", "4242424242424242"),
        ("/v1/cards/4111111111111111/charge", "4111111111111111"),
    ],
    fp: ["4111111111111112", "1234567812345670", "trace_id=4111111111111111", "ts=1714567890123", "0000 0000 0000 0000", "span_id=6011111111111117", "ns=1714567890123456789", "4111 1111 1111 1112"],
);

detector!(card_track_data, Kind::CardTrackData,
    tp: [
        (";4111111111111111=25121010000000000000?", ";4111111111111111=25121010000000000000?"),
        ("%B4111111111111111^DOE/JOHN^2512101000000000000000?", "%B4111111111111111^DOE/JOHN^2512101000000000000000?"),
    ],
    fp: [";4111111111111112=2512101?", "a;b=c", "%B12^x^y?"],
);

detector!(cvv, Kind::Cvv,
    tp: [("cvv: 123", "123"), ("CVV2=1234", "1234"), ("card security code is 987", "987"), ("\"cvc\": \"042\"", "042")],
    fp: ["cvv: 12345", "cvv check passed", "cvvx 123", "recvv 123"],
);

detector!(iban, Kind::Iban,
    tp: [
        ("to DE89 3704 0044 0532 0130 00 ok", "DE89 3704 0044 0532 0130 00"),
        ("GB82WEST12345698765432", "GB82WEST12345698765432"),
        ("iban=FR1420041010050500013M02606", "FR1420041010050500013M02606"),
        ("NL91ABNA0417164300.", "NL91ABNA0417164300"),
    ],
    fp: ["GB82WEST12345698765431", "DE89370400440532013001", "DE12 3456", "DE89 3704 0044 0532 0130 01"],
);

detector!(aba_routing, Kind::AbaRouting,
    tp: [("routing number 021000021", "021000021"), ("ABA: 011000015", "011000015"), ("\"routing_number\":\"011000015\"", "011000015")],
    fp: ["021000021", "routing 011000016", "routing 991000013"],
);

detector!(swift_bic, Kind::SwiftBic,
    tp: [
        ("SWIFT/BIC: DEUTDEFF500", "DEUTDEFF500"),
        ("bic=NWBKGB2L", "NWBKGB2L"),
        ("Swift code BNPAFRPPXXX", "BNPAFRPPXXX"),
        ("swift_code=UBSWCH33 duration_ms=1", "UBSWCH33"),
        ("{\"swift_code\":\"CHASUSHH\"}", "CHASUSHH"),
    ],
    fp: ["swift: ENABLED", "public DEUTDEFF", "bic ABCDQQ12", "swift version 5.9", "swift_code=UNKNOWN"],
);

detector!(bitcoin_address, Kind::BitcoinAddress,
    tp: [
        ("send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),
    ],
    fp: ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
);

detector!(ethereum_address, Kind::EthereumAddress,
    tp: [("wallet 0x52908400098527886E0F7030069857D2E4169EE7", "0x52908400098527886E0F7030069857D2E4169EE7")],
    fp: ["0x0000000000000000000000000000000000000000", "0x52908400098527886E0F7030069857D2E4169EE7ab", "ptr 0x7ffd5e8c", "tx 0x88df016429689c079f3b2f6ad39fa052532c56795b733da78a91ebe6a713944b"],
);

// ---------------------------------------------------------------- government

detector!(us_ssn, Kind::UsSsn,
    tp: [("SSN 123-45-6789", "123-45-6789"), ("ssn: 123456789", "123456789"), ("ss 123 45 6789.", "123 45 6789")],
    fp: ["000-12-3456", "666-12-3456", "123-00-4567", "123-45-0000", "id 123456789", "078-05-1120", "900-12-3456"],
);

detector!(us_itin, Kind::UsItin,
    tp: [("itin 912-70-1234", "912-70-1234"), ("taxpayer id 912781234", "912781234")],
    fp: ["912-40-1234", "912-93-1234"],
);

detector!(uk_nino, Kind::UkNino,
    tp: [("NI number AB123456C", "AB123456C"), ("nino: AB 12 34 56 C.", "AB 12 34 56 C")],
    fp: ["QQ123456C", "AB123456E", "GB123456A", "XAB123456C"],
);

detector!(uk_nhs, Kind::UkNhs,
    tp: [("NHS number: 943 476 5919", "943 476 5919"), ("nhs=9434765919", "9434765919")],
    fp: ["nhs 9434765918", "9434765919", "nhs 111 111 1111"],
);

detector!(fr_nir, Kind::FrNir,
    tp: [("NIR 1 84 12 76 451 089 46", "1 84 12 76 451 089 46"), ("insee=184127645108946", "184127645108946")],
    fp: ["184127645108947", "584127645108946"],
);

detector!(de_tax_id, Kind::DeTaxId,
    tp: [("Steuer-ID: 86095742719", "86095742719"), ("IdNr 65 929 970 489", "65 929 970 489")],
    fp: ["Steuer-ID: 86095742718", "tax 12345678903", "86095742719"],
);

detector!(it_codice_fiscale, Kind::ItCodiceFiscale,
    tp: [("CF: RSSMRA85T10A562S", "RSSMRA85T10A562S")],
    fp: ["RSSMRA85T10A562T", "RSSMRA85Z10A562S"],
);

detector!(es_nif, Kind::EsNif,
    tp: [("DNI 12345678Z", "12345678Z"), ("NIF 51363770-D validado", "51363770-D")],
    fp: ["12345678A", "112345678Z", "NIF 51363770-E", "build 51363770-D1"],
);

detector!(es_nie, Kind::EsNie,
    tp: [("NIE X1234567L", "X1234567L")],
    fp: ["X1234567Z", "A1234567L"],
);

detector!(nl_bsn, Kind::NlBsn,
    tp: [("BSN 111222333", "111222333"), ("burgerservicenummer: 123456782", "123456782")],
    fp: ["BSN 123456789", "111222333"],
);

detector!(pl_pesel, Kind::PlPesel,
    tp: [("PESEL: 44051401359", "44051401359")],
    fp: ["PESEL: 44051401358", "44051401359", "pesel 44135401351"],
);

detector!(se_personnummer, Kind::SePersonnummer,
    tp: [("pnr 811218-9876", "811218-9876"), ("19811218-9876", "19811218-9876"), ("personnummer 8112189876", "8112189876")],
    fp: ["811218-9875", "811318-9870", "8112189876"],
);

detector!(fi_hetu, Kind::FiHetu,
    tp: [("hetu 131052-308T", "131052-308T"), ("010101A123N", "010101A123N")],
    fp: ["131052-308U", "131052G308T"],
);

detector!(ca_sin, Kind::CaSin,
    tp: [("SIN 130 692 544", "130 692 544"), ("130-692-544", "130-692-544"), ("sin: 130692544", "130692544")],
    fp: ["846 454 286 x", "130 692 545", "using 130692544"],
);

detector!(in_aadhaar, Kind::InAadhaar,
    tp: [
        ("aadhaar 2341 2341 2346", "2341 2341 2346"),
        ("aadhaar: 234123412346", "234123412346"),
        // Verhoeff with the standard permutation table (row 4 is 9 4 5 3 1 2 6 8 7 0).
        ("Aadhaar 5730 4717 4003", "5730 4717 4003"),
        ("uid=439893258436 ok", "439893258436"),
    ],
    fp: ["2341 2341 2345", "234123412346", "1341 2341 2340", "uid=439893258437", "uid=1000", "uuid 439893258436"],
);

detector!(au_tfn, Kind::AuTfn,
    tp: [
        ("TFN 123 456 782", "123 456 782"),
        ("tfn: 123456782", "123456782"),
        ("tax file number 87654301", "87654301"),
        ("tax_file_number=491200613", "491200613"),
        ("tax_file_number=\"449 738 582\"", "449 738 582"),
    ],
    fp: ["TFN 123 456 789", "123456782"],
);

detector!(passport, Kind::Passport,
    tp: [
        ("passport no.: 123456789", "123456789"),
        ("Passport: C01X00T47", "C01X00T47"),
        ("PASSPORT#X12345678", "X12345678"),
        ("passport_number=BX582903 duration_ms=1", "BX582903"),
        ("mon numéro de passeport est GT396622.", "GT396622"),
        ("Reisepass Nr. C01X00T47", "C01X00T47"),
    ],
    fp: ["passport: expired", "passport photo 12", "passport 1234", "passport_number=pending"],
);

detector!(vin, Kind::Vin,
    tp: [("VIN 1M8GDM9AXKP042788", "1M8GDM9AXKP042788"), ("1HGCM82633A004352", "1HGCM82633A004352")],
    fp: ["1M8GDM9A1KP042788", "12345678901234567", "ABCDEFGHJKLMNPRST"],
);

// ---------------------------------------------------------------- health

detector!(us_npi, Kind::UsNpi,
    tp: [("NPI: 1234567893", "1234567893"), ("provider_id=1234567893", "1234567893")],
    fp: ["NPI: 1234567890", "1234567893", "npi 3234567893"],
);

detector!(us_dea, Kind::UsDea,
    tp: [("DEA# AB1234563", "AB1234563"), ("dea number: FM1234563", "FM1234563")],
    fp: ["DEA AB1234564", "AB1234563", "dea ZB1234563"],
);

detector!(us_mbi, Kind::UsMbi,
    tp: [("MBI 1EG4-TE5-MK73", "1EG4-TE5-MK73"), ("1EG4TE5MK73", "1EG4TE5MK73")],
    fp: ["1SG4-TE5-MK73", "0EG4TE5MK73", "1EG4TE5MK7"],
);

detector!(medical_record_number, Kind::MedicalRecordNumber,
    tp: [("MRN: 00123456", "00123456"), ("medical record number 77-123-456", "77-123-456"), ("\"mrn\":\"A1234567\"", "A1234567")],
    fp: ["mrn: pending", "mRNA 123456", "MRN 12"],
);

// ---------------------------------------------------------------- network

detector!(ipv4, Kind::Ipv4,
    tp: [
        ("client 192.168.1.20 connected", "192.168.1.20"),
        ("10.0.0.1:8080", "10.0.0.1"),
        ("ip=8.8.8.8,", "8.8.8.8"),
        // A version keyword further back is not about this address.
        ("/job/deploy/build, invalid value 10.188.253.122", "10.188.253.122"),
        ("registry.acme.io/v2/; client 12.234.76.58 rate limited", "12.234.76.58"),
    ],
    fp: ["version 1.2.3.4", "v1.2.3.4", "256.1.1.1", "1.2.3", "01.02.03.04", "1.2.3.4.5", "lib-1.2.3.4", "Mozilla/5.0 (X11; Linux i686; rv:1.9.6.20) Gecko"],
);

detector!(ipv6, Kind::Ipv6,
    tp: [("from 2001:db8::8a2e:370:7334 ok", "2001:db8::8a2e:370:7334"), ("[fe80::1]:8080", "fe80::1"), ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334")],
    fp: ["at 12:34:56", "std::fmt::Display", "cafe::beef", "a1::b2", "10:30"],
);

detector!(mac_address, Kind::MacAddress,
    tp: [("mac 00:1a:2b:3c:4d:5e", "00:1a:2b:3c:4d:5e"), ("00-1A-2B-3C-4D-5E", "00-1A-2B-3C-4D-5E")],
    fp: ["00:00:00:00:00:00", "12:34:56", "ff:ff:ff:ff:ff:ff", "aa:bb:cc:dd:ee:gg"],
);

// ---------------------------------------------------------------- secrets

const LEGACY_OPENAI: &str = "sk-Abc123XyZ456DefT3BlbkFJ789GhiJkl012MnoPqr345Stu";
const ANTHROPIC: &str = "sk-ant-api03-R2D2C3POaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789-_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV-AA";

detector!(openai_key, Kind::OpenAiKey,
    tp: [(LEGACY_OPENAI, LEGACY_OPENAI), ("OPENAI_API_KEY=sk-proj-abcDEF123456ghiJKL789012mnoPQR345678", "sk-proj-abcDEF123456ghiJKL789012mnoPQR345678")],
    fp: ["sk-abc", "task-1234567890123456789012345678901234", "sk-abcdefghijklmnopqrstuvwxyzabcdefghijklmn", "disk-usage 93%"],
);

detector!(anthropic_key, Kind::AnthropicKey,
    tp: [(ANTHROPIC, ANTHROPIC)],
    fp: ["sk-ant-api03-short", "sk-ant-"],
);

detector!(aws_access_key_id, Kind::AwsAccessKeyId,
    tp: [("key AKIAIOSFODNN7EXAMPLE,", "AKIAIOSFODNN7EXAMPLE"), ("ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A")],
    fp: ["AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPLE1", "xAKIAIOSFODNN7EXAMPLE", "AKIA0000000000000000", "ASIA/Tokyo"],
);

detector!(aws_secret_key, Kind::AwsSecretKey,
    tp: [
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("\"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ],
    fp: ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = ${AWS_SECRET}"],
);

#[test]
fn a_sentence_full_stop_is_not_part_of_a_value() {
    finds(
        &Kind::AwsSecretKey,
        "completion: aws_secret_access_key = ksAd6OPH4SZgc6HxdueRgCF2zIXmCwPQpqjTe65z.",
        "ksAd6OPH4SZgc6HxdueRgCF2zIXmCwPQpqjTe65z",
    );
}

detector!(gcp_api_key, Kind::GcpApiKey,
    tp: [("key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe")],
    fp: ["AIzaShort", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQeXX"],
);

detector!(google_oauth_token, Kind::GoogleOauthToken,
    tp: [("ya29.a0AfH6SMBx3kZ-abcdefghijklmnop1234", "ya29.a0AfH6SMBx3kZ-abcdefghijklmnop1234")],
    fp: ["ya29.short", "xya29.a0AfH6SMBx3kZ-abcdefghijklmnop1234"],
);

detector!(azure_storage_key, Kind::AzureStorageKey,
    tp: [(
        "AccountName=x;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    )],
    fp: ["AccountKey=short", "AccountKey="],
);

detector!(azure_sas, Kind::AzureSas,
    tp: [(
        "https://x.blob.core.windows.net/c/b?sv=2021-06-08&sr=b&sp=r&sig=abcdEFGH1234ijklMNOP5678qrstUVWX9012yzAB%2Bcd%3D",
        "abcdEFGH1234ijklMNOP5678qrstUVWX9012yzAB%2Bcd%3D",
    )],
    fp: ["sig=abc", "?sig=short123&x=1"],
);

detector!(github_token, Kind::GithubToken,
    tp: [
        ("GITHUB_TOKEN=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", "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"),
        (
            "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHI",
            "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHI",
        ),
    ],
    fp: ["ghp_R4nd0mT0kenV4lue1234567890abcd4BCWWJ", "ghp_short", "gho_16C7e42F292c6912E7710c838347Ae178B4a"],
);

detector!(gitlab_token, Kind::GitlabToken,
    tp: [("glpat-9vQz4kLmN2pR7sT1uW3y", "glpat-9vQz4kLmN2pR7sT1uW3y")],
    fp: ["glpat-short", "xglpat-9vQz4kLmN2pR7sT1uW3y"],
);

detector!(slack_token, Kind::SlackToken,
    tp: [("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx")],
    fp: ["xoxb-nope", "xox", "xoxo-hugs-and-kisses-friend"],
);

detector!(slack_webhook, Kind::SlackWebhook,
    tp: [(
        "post https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/abcdefghijklmnopqrstuvwx ok",
        "T0ABCDEF1/B0ABCDEF2/abcdefghijklmnopqrstuvwx",
    )],
    fp: ["https://hooks.slack.com/services/", "hooks.slack.com/docs"],
);

detector!(discord_webhook, Kind::DiscordWebhook,
    tp: [(
        "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz01",
        "123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz01",
    )],
    fp: ["https://discord.com/api/webhooks/123"],
);

detector!(telegram_bot_token, Kind::TelegramBotToken,
    tp: [
        ("token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"),
        ("https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/sendMessage", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"),
    ],
    fp: ["12:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", "123456789:AAshort"],
);

detector!(stripe_key, Kind::StripeKey,
    tp: [("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"), ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
    fp: ["sk_live_short", "pk_live_4eC39HqLyjWDarjtT1zdp7dc"],
);

detector!(twilio_key, Kind::TwilioKey,
    tp: [("sid AC0123456789abcdef0123456789abcdef", "AC0123456789abcdef0123456789abcdef"), ("twilio key SK0123456789abcdef0123456789abcdef", "SK0123456789abcdef0123456789abcdef")],
    fp: ["SK0123456789abcdef0123456789abcdef", "AC0123456789abcdef0123456789abcde"],
);

#[test]
fn twilio_key_as_an_assignment_value_keeps_its_kind() {
    let r = strict();
    let f = r.find("TWILIO_API_KEY=SK55b0da821ba44b9827c79163a12332c9");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, Kind::TwilioKey);
    // Without "twilio" nearby an `SK…` value is only a generic secret.
    let f = r.find("api_key=SK55b0da821ba44b9827c79163a12332c9");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, Kind::GenericSecret);
}

#[test]
fn access_log_status_and_size_are_not_identifiers() {
    // The request line names `ssn` and `phone`, but the numbers after it are the status code
    // and the response size.
    clean("[01/May/2024:03:07:48 +0000] \"GET /x?ssn=1 HTTP/1.1\" 404 237081048 \"-\"");
    clean("\"POST /a?phone_number=1 HTTP/1.1\" 302 3582802 \"-\"");
    finds(
        &Kind::UsSsn,
        "\"GET /x?ssn=853-61-7176 HTTP/1.1\" 404 1",
        "853-61-7176",
    );
}

detector!(sendgrid_key, Kind::SendgridKey,
    tp: [("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", "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")],
    fp: ["SG.short.x", "SG.ngeVfQFYQlKU0ufo8x5d1A"],
);

detector!(mailchimp_key, Kind::MailchimpKey,
    tp: [("0123456789abcdef0123456789abcdef-us6", "0123456789abcdef0123456789abcdef-us6")],
    fp: ["lang en-us", "0123456789abcdef0123456789abcde-us6", "0123456789abcdef0123456789abcdef-usa"],
);

detector!(huggingface_token, Kind::HuggingfaceToken,
    tp: [("HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh")],
    fp: ["hf_hub_download", "hf_abcdefghijklmnopqrstuvwxyzabcdefgh"],
);

detector!(npm_token, Kind::NpmToken,
    tp: [("//registry.npmjs.org/:_authToken=npm_AbCdEf0123456789AbCdEf0123456789AbCd", "npm_AbCdEf0123456789AbCdEf0123456789AbCd")],
    fp: ["npm_config_cache", "npm_AbCdEf"],
);

detector!(pypi_token, Kind::PypiToken,
    tp: [("pypi-AgEIcHlwaS5vcmcCJDU3OTM1MjliLWIyYTYtNDEwOC05NzRkLTM0NjU2ZDk0NTk5ZAACJXsicGVybWlzc2lvbnMiOiAidXNlciIsICJ2ZXJzaW9uIjogMX0", "pypi-AgEIcHlwaS5vcmcCJDU3OTM1MjliLWIyYTYtNDEwOC05NzRkLTM0NjU2ZDk0NTk5ZAACJXsicGVybWlzc2lvbnMiOiAidXNlciIsICJ2ZXJzaW9uIjogMX0")],
    fp: ["pypi-AgEshort"],
);

detector!(databricks_token, Kind::DatabricksToken,
    tp: [("dapi0123456789abcdef0123456789abcdef", "dapi0123456789abcdef0123456789abcdef")],
    fp: ["dapi0123456789abcdef0123456789abcde", "dapixyz"],
);

detector!(shopify_token, Kind::ShopifyToken,
    tp: [("shpat_0123456789abcdef0123456789abcdef", "shpat_0123456789abcdef0123456789abcdef")],
    fp: ["shpat_123"],
);

detector!(digitalocean_token, Kind::DigitaloceanToken,
    tp: [(
        "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    )],
    fp: ["dop_v1_abc"],
);

detector!(grafana_token, Kind::GrafanaToken,
    tp: [("glsa_AbCdEf0123456789AbCdEf0123456789_0a1b2c3d", "glsa_AbCdEf0123456789AbCdEf0123456789_0a1b2c3d")],
    fp: ["glsa_short"],
);

detector!(newrelic_key, Kind::NewrelicKey,
    tp: [("NRAK-ABCDEFGHIJ0123456789ABCDEFG", "NRAK-ABCDEFGHIJ0123456789ABCDEFG")],
    fp: ["NRAK-SHORT"],
);

detector!(vault_token, Kind::VaultToken,
    tp: [("VAULT_TOKEN=hvs.CAESIJ1abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "hvs.CAESIJ1abcdefghijklmnopqrstuvwxyz0123456789ABCDEF")],
    fp: ["hvs.short", "thvs.CAESIJ1abcdefghijklmnopqrstuvwxyz0123456789ABCDEF"],
);

detector!(pulumi_token, Kind::PulumiToken,
    tp: [("pul-0123456789abcdef0123456789abcdef01234567", "pul-0123456789abcdef0123456789abcdef01234567")],
    fp: ["pul-123", "pul-request"],
);

detector!(linear_api_key, Kind::LinearApiKey,
    tp: [("lin_api_AbCdEf0123456789AbCdEf0123456789AbCdEf01", "lin_api_AbCdEf0123456789AbCdEf0123456789AbCdEf01")],
    fp: ["lin_api_x"],
);

detector!(postman_key, Kind::PostmanKey,
    tp: [("PMAK-0123456789abcdef01234567-0123456789abcdef0123456789abcdef01", "PMAK-0123456789abcdef01234567-0123456789abcdef0123456789abcdef01")],
    fp: ["PMAK-123"],
);

detector!(atlassian_token, Kind::AtlassianToken,
    tp: [(
        "ATATT3xFfGF0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz0123456789=0A1B2C3D",
        "ATATT3xFfGF0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz0123456789=0A1B2C3D",
    )],
    fp: ["ATATT3short"],
);

detector!(doppler_token, Kind::DopplerToken,
    tp: [("dp.pt.AbCdEf0123456789AbCdEf0123456789AbCdEf01234", "dp.pt.AbCdEf0123456789AbCdEf0123456789AbCdEf01234")],
    fp: ["dp.pt.short", "dp.x"],
);

detector!(groq_key, Kind::GroqKey,
    tp: [("gsk_AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCd", "gsk_AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCd")],
    fp: ["gsk_short"],
);

detector!(xai_key, Kind::XaiKey,
    tp: [(
        "xai-AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789",
        "xai-AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789",
    )],
    fp: ["xai-short"],
);

detector!(perplexity_key, Kind::PerplexityKey,
    tp: [("pplx-AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789", "pplx-AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789")],
    fp: ["pplx-123"],
);

detector!(openrouter_key, Kind::OpenrouterKey,
    tp: [(
        "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    )],
    fp: ["sk-or-v1-abc"],
);

detector!(replicate_token, Kind::ReplicateToken,
    tp: [("r8_AbCdEf0123456789AbCdEf0123456789AbCdE", "r8_AbCdEf0123456789AbCdEf0123456789AbCdE")],
    fp: ["r8_short"],
);

detector!(langsmith_key, Kind::LangsmithKey,
    tp: [("lsv2_pt_0123456789abcdef0123456789abcdef_0123456789", "lsv2_pt_0123456789abcdef0123456789abcdef_0123456789")],
    fp: ["lsv2_pt_abc"],
);

detector!(langfuse_key, Kind::LangfuseKey,
    tp: [("sk-lf-0123abcd-0123-4567-89ab-0123456789ab", "sk-lf-0123abcd-0123-4567-89ab-0123456789ab")],
    fp: ["sk-lf-123", "pk-lf-0123abcd-0123-4567-89ab-0123456789ab"],
);

detector!(pinecone_key, Kind::PineconeKey,
    tp: [(
        "pcsk_4cd8Kp_AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCdEf0123",
        "pcsk_4cd8Kp_AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCdEf0123",
    )],
    fp: ["pcsk_x"],
);

detector!(ward_api_key, Kind::WardApiKey,
    tp: [("ward_a1B2c3D4e5F6_AbCdEf0123456789AbCdEf0123456789AbCdEf01", "ward_a1B2c3D4e5F6_AbCdEf0123456789AbCdEf0123456789AbCdEf01")],
    fp: ["ward_server::api", "ward_redactions_total{tenant=\"a\"}", "ward_a1B2c3D4e5F6_short"],
);

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

detector!(jwt, Kind::Jwt,
    tp: [(JWT, JWT), ("cookie: session=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.;", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")],
    fp: ["eyJub3QiOiJqd3QifQ.e30.x", "eyJhbGciOi", "eyJhbGciOiJIUzI1NiJ9"],
);

const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----";

detector!(private_key, Kind::PrivateKey,
    tp: [
        (PEM, PEM),
        ("{\"key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n\"}", "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----"),
        ("truncated -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY"),
    ],
    fp: ["-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----"],
);

detector!(url_credentials, Kind::UrlCredentials,
    tp: [
        ("fetch https://admin:s3cr3t@example.com/x", "admin:s3cr3t"),
        ("ftp://bob:p@ss@files.example.org", "bob:p@ss"),
        ("GET http://adamstheresa:WiDjPB3QFYS8@jenkins.acme.io/job 200", "adamstheresa:WiDjPB3QFYS8"),
        ("git clone https://oauth2:glpat-short@gitlab.example.com/x.git", "glpat-short"),
    ],
    fp: ["https://example.com/a@b", "https://user@example.com/", "https://user:${PASS}@host/", "https://user:@host/"],
);

detector!(connection_string, Kind::ConnectionString,
    tp: [
        ("DATABASE_URL=postgres://app:hunter2@db:5432/x", "hunter2"),
        ("mongodb+srv://u:p4ss@cluster0.x.net/db", "p4ss"),
        ("redis://:redispass@cache:6379/0", "redispass"),
        ("jdbc:mysql://root:Tr0ub4dor@mysql:3306/app", "Tr0ub4dor"),
    ],
    fp: ["postgres://db:5432/x", "postgres://app:****@db/x", "postgres://app@db/x"],
);

detector!(authorization_header, Kind::AuthorizationHeader,
    tp: [
        ("Authorization: Bearer abcdef0123456789abcdef", "abcdef0123456789abcdef"),
        ("authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("\"Authorization\": \"Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b\"", "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"),
        ("curl -H 'Bearer abcdefghijklmnop1234'", "abcdefghijklmnop1234"),
        ("proxy-authorization=Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ", "QWxhZGRpbjpvcGVuIHNlc2FtZQ"),
        // A logged header value without its key: base64 of `user:password`.
        ("rejected Basic dGZsb3dlcnM6OGl1dlVKVWxpJHAxd00oaF8=\\n\\tat x", "dGZsb3dlcnM6OGl1dlVKVWxpJHAxd00oaF8="),
        ("updated with Basic dXNtaXRoOkJlcmxpbjIyND8=. ok", "dXNtaXRoOkJlcmxpbjIyND8="),
    ],
    fp: [
        "Basic auth enabled for /admin",
        "Visual Basic 6.0 runtime",
        "Basic aGVsbG8gd29ybGQ=",
        "Basic QWxhZGRpbjo=","Authorization: [REDACTED]", "authorization failed for user", "bearer of bad news", "Authorization: Bearer", "bearer token expired"],
);

detector!(password_assignment, Kind::PasswordAssignment,
    tp: [
        ("login password=hunter2 user=bob", "hunter2"),
        ("{\"password\": \"correct horse battery staple\"}", "correct horse battery staple"),
        ("DB_PASSWORD: s3cr3t", "s3cr3t"),
        ("passwd='x1y2'", "x1y2"),
        ("msg=\"{\\\"password\\\":\\\"hunter2\\\"}\"", "hunter2"),
        ("spring.datasource.password = hunter2", "hunter2"),
        ("--password=päss€word!", "päss€word!"),
        ("userPassword:Tr0ub4dor&3", "Tr0ub4dor&3"),
        // Generated passwords are full of `&`, `(`, `)`, `#`: only a URL query ends at `&`.
        ("password=#*Eq&Dtfr4", "#*Eq&Dtfr4"),
        ("PGPASSWORD=&6x(8QFijA#9 psql -h db", "&6x(8QFijA#9"),
        ("db_pass: (Z^kd3YfHHr&+@P7. Can you help", "(Z^kd3YfHHr&+@P7"),
        ("GET /login?smtp_password=)0rB!RWr1L1e&user=bob HTTP/1.1", ")0rB!RWr1L1e"),
        ("(password=hunter2x)", "hunter2x"),
        ("login failed for user=bob password=w(JBajc1zf9oIWk, api_key: x", "w(JBajc1zf9oIWk"),
        // Only a space after the keyword: accepted when the value looks like a password.
        ("smtp auth password Welcome1006* (took 3s)", "Welcome1006*"),
        ("smtp auth password letmein-rainbow-rainbow", "letmein-rainbow-rainbow"),
        ("smtp auth password 8hZErgo6rvOgLW", "8hZErgo6rvOgLW"),
        ("exec: mysql -u root --password s3cr3t -h db", "s3cr3t"),
    ],
    fp: [
        "password=",
        "password: ****",
        "password_reset_required=true",
        "password changed",
        "has_password=false",
        "password=${DB_PASSWORD}",
        "password: [PASSWORD]",
        "password_length=12",
        "--password --verbose",
        "password reset requested for jane",
        "password authentication failed for user postgres",
        "password expires in 14 days",
        "password 12345678",
        "password re-entered",
    ],
);

detector!(generic_secret, Kind::GenericSecret,
    tp: [
        ("api_key=0123456789abcdefABCD", "0123456789abcdefABCD"),
        ("\"client_secret\": \"8f3k2Lm9Qz7Xw1Vb\"", "8f3k2Lm9Qz7Xw1Vb"),
        ("token=4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("secret: Zm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4"),
        ("using api key Xk9mQ2vB7pL4wN8rT3yZ6cF1", "Xk9mQ2vB7pL4wN8rT3yZ6cF1"),
        ("X-Api-Key: 2f8a9c0d1e7b4a6f9c3d", "2f8a9c0d1e7b4a6f9c3d"),
        ("signing_key=7SJvo3hVS2W5S9ym5QbF1GF7Y_p-0fmQR5JXYUAGKLg", "7SJvo3hVS2W5S9ym5QbF1GF7Y_p-0fmQR5JXYUAGKLg"),
        ("{\"encryption_key\":\"txBWlDRwAi864b5xOnP0vPioyuty\"}", "txBWlDRwAi864b5xOnP0vPioyuty"),
        // Random hex measures less entropy than mixed alphabets (16 symbols at most).
        ("webhook secret 0ad89624747c9488ea48891fda495918, lookup failed", "0ad89624747c9488ea48891fda495918"),
    ],
    fp: [
        "max_tokens=1024",
        "input_tokens: 512",
        "secret_name=db-creds",
        "token_type=Bearer",
        "next_page_token=abc123def456ghi789jkl",
        "token=abc",
        "secret: true",
        "the token expired",
        "api_key_id=12",
        "tokenizer=cl100k_base",
        "signing_key_id=12",
        "encryption_key_id=kms-key-12",
        "webhook secret 00000000000000000000000000000000",
        "the secret aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ],
);

#[test]
fn every_kind_has_a_detector_test() {
    let src = include_str!("detectors.rs");
    for kind in Kind::all() {
        let needle = format!("detector!({}, ", kind.as_str());
        assert!(src.contains(&needle), "no detector test for {kind}");
    }
}
