//! Kind bytes of the frames (the first byte of each message); RESTART,
//! END, CHANGES_GET and the container operations (TOP … EXPORT, 0x73–0x77)
//! live with their frames.

pub const HELLO: u8 = 0x01;
pub const ERROR: u8 = 0x02;
pub const ATTACH: u8 = 0x03;
pub const EXEC_START: u8 = 0x10;
pub const STARTED: u8 = 0x11;
pub const STDIN: u8 = 0x20;
pub const CLOSE_STDIN: u8 = 0x21;
pub const RESIZE: u8 = 0x22;
pub const SIGNAL: u8 = 0x23;
pub const STDOUT: u8 = 0x30;
pub const STDERR: u8 = 0x31;
pub const ACK: u8 = 0x32;
pub const EXIT: u8 = 0x33;
pub const HEALTH: u8 = 0x40;
pub const ARCHIVE_GET: u8 = 0x50;
pub const ARCHIVE_PUT: u8 = 0x51;
pub const ARCHIVE_STAT: u8 = 0x52;
pub const PATH_STAT: u8 = 0x53;
pub const TCP_CONNECT: u8 = 0x60;
pub const TCP_ACCEPTED: u8 = 0x61;
pub const LISTENING: u8 = 0x62;
pub const PEERS: u8 = 0x63;
pub const UNIX_LISTEN: u8 = 0x65;
pub const UNIX_ACCEPTED: u8 = 0x66;
