//! Replays PHH hand histories through the engine and prints, per file, one
//! JSON line: `{"file": ..., "finishing_stacks": [...]}` or
//! `{"file": ..., "error": "..."}` naming the illegal action.
//!
//! Usage: `phh-replay FILE...` (exit status 1 if any file failed).

use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: phh-replay FILE...");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for file in files {
        let result = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|text| game_core::phh::from_phh(&text).map_err(|e| e.to_string()));
        let line = match result {
            Ok(hand) => serde_json::json!({ "file": file, "finishing_stacks": hand.finishing_stacks }),
            Err(error) => {
                failed = true;
                serde_json::json!({ "file": file, "error": error })
            }
        };
        println!("{line}");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
