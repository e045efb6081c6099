//! The GOCACHEPROG protocol against a local store: put, get, close, a miss, a bad blob.

use super::*;

fn session(dir: &Utf8PathBuf, input: &str) -> Vec<serde_json::Value> {
    let options = CacheprogOptions {
        dir: dir.clone(),
        remote: None,
        instance: None,
        read_only: false,
    };
    let mut out = Vec::new();
    serve(&options, input.as_bytes(), &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A session that puts `body` under action `[7; 32]`, then closes.
fn put_request(body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (action, output) = (b64.encode([7u8; 32]), b64.encode(Sha256::digest(body)));
    format!(
        "{{\"ID\":1,\"Command\":\"put\",\"ActionID\":\"{action}\",\"OutputID\":\"{output}\",\"BodySize\":{}}}\n\n\"{}\"\n\n{{\"ID\":2,\"Command\":\"close\"}}\n",
        body.len(),
        b64.encode(body)
    )
}

#[test]
fn put_then_get_in_a_second_process_and_a_miss() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::from_path_buf(tmp.path().join("store")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let (action, body) = (b64.encode([7u8; 32]), b"compiled package");
    let replies = session(&dir, &put_request(body));
    assert_eq!(replies[0]["KnownCommands"][0], "get");
    let path = replies[1]["DiskPath"].as_str().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
    assert_eq!(replies.last().unwrap()["ID"], 2);
    let other = b64.encode([8u8; 32]);
    let get = format!(
        "{{\"ID\":1,\"Command\":\"get\",\"ActionID\":\"{action}\"}}\n{{\"ID\":2,\"Command\":\"get\",\"ActionID\":\"{other}\"}}\n{{\"ID\":3,\"Command\":\"close\"}}\n"
    );
    let replies = session(&dir, &get);
    let by_id = |id: i64| replies.iter().find(|r| r["ID"] == id).unwrap().clone();
    assert_eq!(
        by_id(1)["OutputID"],
        b64.encode(Sha256::digest(body)).as_str()
    );
    assert_eq!(by_id(1)["Size"], body.len());
    assert_eq!(by_id(2)["Miss"], true);
    // go's index entries live under keys of their own.
    assert_ne!(prog_key(&[7u8; 32]).as_str(), statcache::hex(&[7u8; 32]));
}

#[test]
fn a_put_over_a_flipped_blob_of_the_same_size_hands_go_the_right_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::from_path_buf(tmp.path().join("store")).unwrap();
    let body = b"compiled package";
    let sha256 = statcache::hex(&Sha256::digest(body));
    let blob = crate::buildcache::storage::blob_path(&dir, &sha256);
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, b"compiled packagf").unwrap();
    let replies = session(&dir, &put_request(body));
    let path = replies[1]["DiskPath"].as_str().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
}
