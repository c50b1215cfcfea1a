//! sockerless-frontend-docker
#![warn(missing_docs)]
