//! Explaining an offline build's failure: go's "module lookup disabled by GOPROXY=off" and
//! "missing go.sum entry" pages, turned into one line that names the module and the fix.

/// One line for go's output when a module was missing from the cache (with GOPROXY=off) or from
/// go.sum, or None when the failure is something else (a compile error keeps go's own output).
pub fn explain_offline_failure(stderr: &str) -> Option<String> {
    if stderr.contains("module lookup disabled by GOPROXY=off") {
        let mut missing: Vec<String> = Vec::new();
        for line in stderr.lines() {
            let line = line.trim();
            // `go: downloading example.com/alpha v1.2.0` precedes the failure that it caused.
            let named = if let Some(rest) = line.strip_prefix("go: downloading ") {
                rest.split_once(' ').map(|(m, v)| format!("{m}@{v}"))
            } else {
                // `go: example.com/alpha@v1.2.0: module lookup disabled by GOPROXY=off`
                line.strip_suffix(": module lookup disabled by GOPROXY=off")
                    .map(|l| l.trim_start_matches("go: "))
                    .and_then(|l| l.rsplit(": ").next())
                    .filter(|l| {
                        !l.contains(' ')
                            && l.rsplit_once('@')
                                .is_some_and(|(_, v)| v.starts_with('v') && !v.contains(['/', ':']))
                    })
                    .map(str::to_string)
            };
            if let Some(id) = named.filter(|id| !missing.contains(id)) {
                missing.push(id);
            }
        }
        let what = match missing.as_slice() {
            [] => "a module the build needs is".to_string(),
            [one] => format!("{one} is"),
            many => format!("{} are", many.join(", ")),
        };
        return Some(format!(
            "{what} not in the module cache and --offline forbids downloading: run `cargo xtask go-fetch` first"
        ));
    }
    // `missing go.sum entry for module providing package P (imported by M); to add: ...`
    // or `missing go.sum entry for go.mod file; to add it: go mod download M`.
    let line = stderr
        .lines()
        .find(|l| l.contains("missing go.sum entry"))?;
    let subject = line
        .split_once("providing package ")
        .map(|(_, rest)| {
            let package = rest.split([' ', ';']).next().unwrap_or(rest);
            format!("the module providing package {package}")
        })
        .or_else(|| {
            stderr
                .lines()
                .find_map(|l| l.trim().strip_prefix("go mod download "))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "a module the build needs".to_string());
    Some(format!(
        "go.sum has no entry for {subject}: run `go mod tidy` in the module's directory, then `cargo xtask go-fetch`"
    ))
}

#[cfg(test)]
mod tests {
    use super::explain_offline_failure as explain;

    #[test]
    fn names_the_missing_module_and_the_fix() {
        let stderr = "go: downloading example.com/alpha v1.2.0\n\
                      ../mc/example.com/delta@v1.0.0/delta.go:4:8: module lookup disabled by GOPROXY=off\n";
        assert_eq!(
            explain(stderr).unwrap(),
            "example.com/alpha@v1.2.0 is not in the module cache and --offline forbids downloading: \
             run `cargo xtask go-fetch` first"
        );
        let stderr = "go: example.com/beta@v1.0.0: module lookup disabled by GOPROXY=off\n";
        assert!(explain(stderr)
            .unwrap()
            .starts_with("example.com/beta@v1.0.0 is not"));
        let stderr =
            "main.go:6:2: missing go.sum entry for module providing package example.com/beta \
                      (imported by demo.test/m1); to add:\n\tgo get demo.test/m1\n";
        let line = explain(stderr).unwrap();
        assert!(
            line.contains("package example.com/beta:") && line.contains("go mod tidy"),
            "{line}"
        );
        assert_eq!(explain("main.go:3:1: undefined: x\n"), None);
    }
}
