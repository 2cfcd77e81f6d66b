//! Go's `path.Match`, which Docker's `reference=` filters use: `*` matches
//! any run of characters except `/`, `?` one character except `/`, `[...]`
//! a class (with `^` or `!` negation and ranges), `\` escapes.

/// Does `name` match `pattern` in full?
pub fn path_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    // Backtracking point for the last '*': (pattern index after *, name index)
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi + 1, ni));
                    pi += 1;
                    continue;
                }
                '?' if n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class(&p[pi..], n[ni]) {
                        if ok {
                            pi += len;
                            ni += 1;
                            continue;
                        }
                    } else {
                        return false;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c != '?' && c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            // '*' may not swallow a '/'.
            Some((sp, sn)) if n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Match one character against a `[...]` class at the start of `p`;
/// returns (matched, length of the class) or None when malformed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('^') | Some('!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&x| x != ']') {
            hi = *p.get(i + 1)?;
            i += 2;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    Some((matched != negate && c != '/', i + 1))
}

#[cfg(test)]
mod tests {
    use super::path_match;

    #[test]
    fn go_path_match() {
        assert!(path_match("busybox", "busybox"));
        assert!(path_match("busy*", "busybox"));
        assert!(!path_match("*", "library/busybox"));
        assert!(path_match("*/*", "library/busybox"));
        assert!(path_match("b?sybox", "busybox"));
        assert!(path_match("[a-c]usybox", "busybox"));
        assert!(!path_match("[^b]usybox", "busybox"));
        assert!(path_match("*:latest", "busybox:latest"));
        assert!(!path_match("busy", "busybox"));
    }
}
