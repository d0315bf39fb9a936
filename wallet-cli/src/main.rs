//! The `merit` binary; everything lives in the `merit_wallet` library.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    merit_wallet::main()
}
