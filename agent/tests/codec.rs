//! Property tests of the frame codec.

use bytes::Bytes;
use proptest::prelude::*;
use sockerless_agent::protocol::*;

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 /._\\-\u{e9}\u{4e2d}]{0,24}"
}

fn data() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..512).prop_map(Bytes::from)
}

fn frame() -> impl Strategy<Value = Frame> {
    let s = any::<u32>();
    prop_oneof![
        (
            any::<u32>(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            any::<u64>(),
            any::<bool>(),
            proptest::collection::vec((any::<u32>(), any::<u64>(), any::<u64>()), 0..3)
        )
            .prop_map(
                |(version, token, container_id, window, tty, resume)| Frame::Hello(Hello {
                    version,
                    token,
                    container_id,
                    window,
                    stdin_window: window / 2,
                    tty,
                    open_stdin: !tty,
                    records_changes: tty,
                    ops: !tty,
                    paused: tty,
                    sessions: vec![SessionInfo {
                        session: 3,
                        stdin_offset: window
                    }],
                    resume: resume
                        .into_iter()
                        .map(|(session, stdout, stderr)| ResumeEntry {
                            session,
                            stdout,
                            stderr
                        })
                        .collect(),
                })
            ),
        (s, text()).prop_map(|(session, message)| Frame::Error { session, message }),
        (s, any::<u64>(), any::<u64>()).prop_map(|(session, stdout, stderr)| Frame::Attach {
            session,
            stdout,
            stderr
        }),
        (
            s,
            proptest::collection::vec(text(), 0..4),
            proptest::option::of(text()),
            any::<bool>(),
            any::<u16>()
        )
            .prop_map(|(session, cmd, user, tty, rows)| Frame::ExecStart {
                session,
                config: ExecConfig {
                    cmd,
                    env: vec!["A=b".into()],
                    workdir: None,
                    user,
                    tty,
                    stdin: !tty,
                    rows,
                    cols: rows / 2
                },
            }),
        (s, any::<u32>()).prop_map(|(session, pid)| Frame::Started { session, pid }),
        (s, any::<u64>(), data()).prop_map(|(session, offset, data)| Frame::Stdin {
            session,
            offset,
            data
        }),
        s.prop_map(|session| Frame::CloseStdin { session }),
        Just(Frame::Restart),
        Just(Frame::End),
        (s, any::<u16>(), any::<u16>()).prop_map(|(session, rows, cols)| Frame::Resize {
            session,
            rows,
            cols
        }),
        (s, any::<i32>()).prop_map(|(session, signal)| Frame::Signal { session, signal }),
        (s, any::<bool>(), any::<u64>(), data()).prop_map(|(session, out, offset, data)| {
            Frame::Output {
                session,
                stream: if out {
                    OutputStream::Stdout
                } else {
                    OutputStream::Stderr
                },
                offset,
                data,
            }
        }),
        (s, 0u8..4, any::<u64>()).prop_map(|(session, k, offset)| Frame::Ack {
            session,
            stream: [
                AckStream::Stdin,
                AckStream::Stdout,
                AckStream::Stderr,
                AckStream::Exit
            ][k as usize],
            offset,
        }),
        (s, any::<i32>()).prop_map(|(session, code)| Frame::Exit { session, code }),
        (text(), any::<u32>(), any::<i32>()).prop_map(|(output, failing_streak, exit_code)| {
            Frame::Health(HealthReport {
                status: "healthy".into(),
                failing_streak,
                exit_code,
                output,
                start: "2026-01-01T00:00:00Z".into(),
                end: "2026-01-01T00:00:01.5Z".into(),
            })
        }),
        (s, text()).prop_map(|(session, path)| Frame::ArchiveGet { session, path }),
        (
            s,
            text(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(session, path, create, clear, owners, whiteouts)| {
                Frame::ArchivePut {
                    session,
                    path,
                    options: PutOptions {
                        create,
                        clear,
                        owners,
                        whiteouts,
                    },
                }
            }),
        (s, text()).prop_map(|(session, path)| Frame::ArchiveStat { session, path }),
        (s, text(), any::<i64>(), any::<u32>()).prop_map(|(session, name, size, mode)| {
            Frame::PathStat {
                session,
                stat: PathStat {
                    name,
                    size,
                    mode,
                    mtime: "2026-01-01T00:00:00Z".into(),
                    link_target: String::new(),
                },
            }
        }),
        (s, text(), any::<u16>()).prop_map(|(session, host, port)| Frame::TcpConnect {
            session,
            target: TcpTarget { host, port },
        }),
        (s, text(), any::<u16>()).prop_map(|(session, ip, port)| Frame::TcpAccepted {
            session,
            on: AcceptedOn { ip, port },
        }),
        (
            proptest::collection::vec(any::<u16>(), 0..8),
            proptest::collection::vec(text(), 0..3)
        )
            .prop_map(|(ports, addresses)| Frame::Listening(Listening { ports, addresses })),
        proptest::collection::vec(
            (
                text(),
                proptest::collection::vec(text(), 0..3),
                proptest::collection::vec(any::<u16>(), 0..3)
            ),
            0..4
        )
        .prop_map(|hosts| Frame::Peers(PeersUpdate {
            hosts: hosts
                .into_iter()
                .map(|(ip, names, ports)| PeerHost { ip, names, ports })
                .collect(),
        })),
        proptest::collection::vec(text(), 0..3)
            .prop_map(|paths| Frame::UnixListen(UnixListen { paths })),
        (s, text()).prop_map(|(session, path)| Frame::UnixAccepted { session, path }),
    ]
}

proptest! {
    #[test]
    fn round_trip(f in frame()) {
        let bytes = f.encode();
        prop_assert_eq!(Frame::decode(&bytes), Ok(f.clone()));
        prop_assert_eq!(Frame::decode(&bytes).map(|d| d.session()), Ok(f.session()));
    }

    #[test]
    fn fragmented_reads_reassemble(frames in proptest::collection::vec(frame(), 1..8),
                                   cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16)) {
        let stream: Vec<u8> = frames.iter().flat_map(|f| encode_delimited(f).to_vec()).collect();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.push(0);
        points.push(stream.len());
        points.sort_unstable();
        let mut dec = DelimitedDecoder::default();
        let mut out = Vec::new();
        for w in points.windows(2) {
            dec.extend(&stream[w[0]..w[1]]);
            while let Some(f) = dec.next_frame().expect("valid stream") {
                out.push(f);
            }
        }
        prop_assert_eq!(out, frames);
    }

    #[test]
    fn truncated_frames_never_panic(f in frame(), cut in any::<prop::sample::Index>()) {
        let bytes = f.encode();
        let n = cut.index(bytes.len());
        let _ = Frame::decode(&bytes.slice(..n));
    }

    #[test]
    fn garbage_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Frame::decode(&Bytes::from(raw.clone()));
        let mut dec = DelimitedDecoder::default();
        dec.extend(&raw);
        while let Ok(Some(_)) = dec.next_frame() {}
    }
}

#[test]
fn oversized_and_unknown_frames_are_errors() {
    assert_eq!(
        Frame::decode(&Bytes::from(vec![0u8; 3])),
        Err(DecodeError::Truncated)
    );
    assert_eq!(
        Frame::decode(&Bytes::from(vec![0xEEu8, 0, 0, 0, 0])),
        Err(DecodeError::UnknownKind(0xEE))
    );
    assert!(matches!(
        Frame::decode(&Bytes::from(vec![0x30u8; MAX_FRAME_LEN + 1])),
        Err(DecodeError::TooLarge(_))
    ));
    let mut dec = DelimitedDecoder::default();
    dec.extend(&u32::MAX.to_be_bytes());
    assert!(matches!(dec.next_frame(), Err(DecodeError::TooLarge(_))));
}

#[test]
fn tcp_and_relay_frames_have_the_documented_wire_format() {
    let f = Frame::TcpConnect {
        session: 7,
        target: TcpTarget {
            host: "127.0.0.1".into(),
            port: 7000,
        },
    };
    let bytes = f.encode();
    assert_eq!(&bytes[..5], &[0x60, 0, 0, 0, 7]);
    assert_eq!(&bytes[5..], br#"{"host":"127.0.0.1","port":7000}"#);
    let f = Frame::TcpAccepted {
        session: AGENT_SESSION_BASE,
        on: AcceptedOn {
            ip: "127.18.0.3".into(),
            port: 7000,
        },
    };
    let bytes = f.encode();
    assert_eq!(&bytes[..5], &[0x61, 0x80, 0, 0, 0]);
    assert_eq!(&bytes[5..], br#"{"ip":"127.18.0.3","port":7000}"#);
    let bytes = Frame::UnixListen(UnixListen {
        paths: vec!["/var/run/docker.sock".into()],
    })
    .encode();
    assert_eq!(&bytes[..5], &[0x65, 0, 0, 0, 0]);
    assert_eq!(&bytes[5..], br#"{"paths":["/var/run/docker.sock"]}"#);
    let bytes = Frame::UnixAccepted {
        session: AGENT_SESSION_BASE + 1,
        path: "/var/run/docker.sock".into(),
    }
    .encode();
    assert_eq!(&bytes[..5], &[0x66, 0x80, 0, 0, 1]);
    assert_eq!(&bytes[5..], br#"{"path":"/var/run/docker.sock"}"#);
    let bytes = Frame::Listening(Listening {
        ports: vec![7000, 8080],
        addresses: vec!["10.213.0.5".into()],
    })
    .encode();
    assert_eq!(&bytes[..5], &[0x62, 0, 0, 0, 0]);
    assert_eq!(
        &bytes[5..],
        br#"{"ports":[7000,8080],"addresses":["10.213.0.5"]}"#
    );
    let peers = br#"{"hosts": [{"ip": "127.18.0.3", "names": ["db", "srv"], "ports": [7000]}, {"ip": "10.0.0.9"}]}"#;
    let mut raw = vec![0x63, 0, 0, 0, 0];
    raw.extend_from_slice(peers);
    assert_eq!(
        Frame::decode(&Bytes::from(raw)),
        Ok(Frame::Peers(PeersUpdate {
            hosts: vec![
                PeerHost {
                    ip: "127.18.0.3".into(),
                    names: vec!["db".into(), "srv".into()],
                    ports: vec![7000],
                },
                PeerHost {
                    ip: "10.0.0.9".into(),
                    names: vec![],
                    ports: vec![],
                },
            ],
        }))
    );
}

#[test]
fn malformed_tcp_and_relay_payloads_are_errors() {
    let bad: [&[u8]; 6] = [
        b"",
        b"{",
        br#"{"host": "x"}"#,
        br#"{"host": "x", "port": 70000}"#,
        br#"{"host": 1, "port": 1}"#,
        b"\xff\xfe",
    ];
    for kind in [0x60u8, 0x61] {
        for payload in bad {
            let mut raw = vec![kind, 0, 0, 0, 1];
            raw.extend_from_slice(payload);
            assert!(matches!(
                Frame::decode(&Bytes::from(raw)),
                Err(DecodeError::Invalid(_))
            ));
        }
    }
    // Unknown fields are ignored, so each kind gets payloads that break its own fields.
    let bad_reports: [(u8, &[u8]); 8] = [
        (0x62, b""),
        (0x62, b"7"),
        (0x62, br#"{"ports": "x"}"#),
        (0x62, br#"{"ports": [-1]}"#),
        (0x63, b"{"),
        (0x63, b"7"),
        (0x63, br#"{"hosts": [{"names": []}]}"#),
        (0x63, br#"{"hosts": [{"ip": "x", "ports": [65536]}]}"#),
    ];
    for (kind, payload) in bad_reports {
        let mut raw = vec![kind, 0, 0, 0, 0];
        raw.extend_from_slice(payload);
        let decoded = Frame::decode(&Bytes::from(raw));
        assert!(
            matches!(decoded, Err(DecodeError::Invalid(_))),
            "{kind:#x} {payload:?}: {decoded:?}"
        );
    }
    for n in 0..5 {
        assert_eq!(
            Frame::decode(&Bytes::from(vec![0x60u8; n])),
            Err(DecodeError::Truncated)
        );
    }
}
