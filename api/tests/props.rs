//! Property tests: address parsing and stream frame decoding never panic and
//! round-trip what they accept.

use bytes::Bytes;
use proptest::prelude::*;
use sockerless_api::listen::ListenAddr;
use sockerless_api::wire::{
    ClientText, ServerText, decode_client_text, decode_output, decode_server_text,
    encode_client_text, encode_output, encode_server_text, pct_decode, pct_encode,
};
use sockerless_api::{OutputChunk, StreamKind};

proptest! {
    #[test]
    fn listen_addr_parse_never_panics_and_round_trips(s in "\\PC*") {
        if let Ok(addr) = s.parse::<ListenAddr>() {
            let again: ListenAddr = addr.to_string().parse().expect("display parses");
            prop_assert_eq!(again, addr);
        }
    }

    #[test]
    fn listen_addr_near_misses(prefix in "(unix://|tcp://|http://|)", rest in "[a-z0-9/:.\\[\\]@%-]{0,24}") {
        let s = format!("{prefix}{rest}");
        match s.parse::<ListenAddr>() {
            Ok(addr) => prop_assert_eq!(addr.to_string().parse::<ListenAddr>().expect("round trip"), addr),
            Err(e) => prop_assert!(e.to_string().contains("accepted forms"), "{}", e),
        }
    }

    #[test]
    fn valid_tcp_addresses_parse(host in "[a-z][a-z0-9-]{0,10}(\\.[a-z0-9]{1,5}){0,2}", port: u16) {
        let addr: ListenAddr = format!("tcp://{host}:{port}").parse().expect("valid");
        prop_assert_eq!(addr, ListenAddr::Tcp { host, port });
    }

    #[test]
    fn valid_unix_addresses_parse(path in "(/[a-zA-Z0-9._-]{1,12}){1,5}") {
        let addr: ListenAddr = format!("unix://{path}").parse().expect("valid");
        prop_assert_eq!(addr, ListenAddr::Unix(path.into()));
    }

    #[test]
    fn output_frame_decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let frame = Bytes::from(data);
        if let Ok(chunk) = decode_output(&frame) {
            prop_assert_eq!(encode_output(&chunk), vec![frame]);
        }
    }

    #[test]
    fn output_frames_round_trip(stream in 0u8..3, data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let chunk = OutputChunk { stream: StreamKind::from_byte(stream).expect("kind"), data: Bytes::from(data) };
        let mut joined = Vec::new();
        for f in encode_output(&chunk) {
            let c = decode_output(&f).expect("decode");
            prop_assert_eq!(c.stream, chunk.stream);
            joined.extend_from_slice(&c.data);
        }
        prop_assert_eq!(joined, chunk.data.to_vec());
    }

    #[test]
    fn text_frame_decode_never_panics(s in "\\PC*") {
        let _ = decode_server_text(&s);
        let _ = decode_client_text(&s);
        let _ = pct_decode(&s);
    }

    #[test]
    fn json_like_text_frames(key in "(item|error|type|status|message)", value in "(null|1|\"x\"|\\{\\}|\\{\"status\":404,\"message\":\"m\"\\}|\"close_stdin\"|\"abort\")") {
        let s = format!("{{\"{key}\":{value}}}");
        if let Ok(t) = decode_server_text(&s) {
            let again = decode_server_text(&encode_server_text(&t)).expect("round trip");
            prop_assert_eq!(again, t);
        }
        if let Ok(t) = decode_client_text(&s) {
            prop_assert_eq!(decode_client_text(&encode_client_text(&t)).expect("round trip"), t);
        }
    }

    #[test]
    fn pct_round_trips(s in "\\PC*") {
        prop_assert_eq!(pct_decode(&pct_encode(&s)), Some(s));
    }

    #[test]
    fn abort_frames_round_trip(message in "\\PC*") {
        let t = ClientText::Abort { message };
        prop_assert_eq!(decode_client_text(&encode_client_text(&t)).expect("decode"), t);
        let e = ServerText::Item(serde_json::json!({"status": "x"}));
        prop_assert_eq!(decode_server_text(&encode_server_text(&e)).expect("decode"), e);
    }
}
