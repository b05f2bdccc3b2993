//! Dev-only: render a job summary (GitHub-flavoured Markdown, as written to
//! `GITHUB_STEP_SUMMARY`) to a standalone HTML page styled like GitHub's, to look at it or
//! screenshot it (`docs/summary-success.png`, `docs/summary-failure.png`). With
//! `MERMAID_JS` set to a local `mermaid.min.js` (`npm install mermaid`), the timeline's
//! Mermaid block is drawn as GitHub draws it:
//!
//! ```sh
//! MERMAID_JS=/tmp/mm/node_modules/mermaid/dist/mermaid.min.js \
//!   cargo run --example summary_html -- summary.md > summary.html
//! chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 \
//!   --screenshot=summary.png --window-size=1000,1400 summary.html
//! ```
//!
//! Raw HTML is rendered (GitHub allows `<details>`): any HTML from the platform has already
//! been escaped by the summary itself, which is the point of looking.

use std::io::Read;

const CSS: &str = r#"
body { margin: 0; background: #f6f8fa; font-family: -apple-system, BlinkMacSystemFont,
  "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; font-size: 14px; line-height: 1.5;
  color: #1f2328; }
.frame { max-width: 940px; margin: 16px auto; background: #fff; border: 1px solid #d1d9e0;
  border-radius: 6px; }
.frame-head { padding: 12px 16px; border-bottom: 1px solid #d1d9e0; font-weight: 600; }
.frame-head span { color: #59636e; font-weight: 400; }
.markdown-body { padding: 16px 24px 24px; }
h1, h2, h3, h4 { margin: 24px 0 16px; font-weight: 600; line-height: 1.25; }
h2 { font-size: 1.5em; padding-bottom: .3em; border-bottom: 1px solid #d1d9e0; margin-top: 0; }
h3 { font-size: 1.25em; } h4 { font-size: 1em; }
p { margin: 0 0 16px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 85%; }
code { background: rgba(129,139,152,.12); padding: .2em .4em; border-radius: 6px; }
pre { background: #f6f8fa; padding: 16px; border-radius: 6px; overflow: auto; line-height: 1.45; }
pre code { background: none; padding: 0; font-size: 100%; }
table { border-collapse: collapse; margin: 0 0 16px; display: block; width: max-content;
  max-width: 100%; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
th { font-weight: 600; }
tr:nth-child(2n) { background: #f6f8fa; }
details { margin: 0 0 16px; } summary { cursor: pointer; }
a { color: #0969da; text-decoration: none; }
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut md = String::new();
    match std::env::args().nth(1) {
        Some(path) => md = std::fs::read_to_string(path)?,
        None => {
            std::io::stdin().read_to_string(&mut md)?;
        }
    }
    let mut o = comrak::Options::default();
    o.extension.table = true;
    o.extension.strikethrough = true;
    o.extension.autolink = true;
    o.extension.tasklist = true;
    o.render.r#unsafe = true;
    let body = comrak::markdown_to_html(&md, &o);
    // Mermaid from a local file only (no network): each ```mermaid block becomes a
    // diagram, with the strict security level GitHub uses.
    let mermaid = std::env::var("MERMAID_JS")
        .map(|path| {
            format!(
                "<script src=\"file://{path}\"></script><script>\
                 for (const c of document.querySelectorAll('code.language-mermaid')) {{\
                   const d = document.createElement('div'); d.className = 'mermaid';\
                   d.textContent = c.textContent; c.parentElement.replaceWith(d); }}\
                 mermaid.initialize({{ startOnLoad: false, securityLevel: 'strict' }});\
                 mermaid.run();</script>"
            )
        })
        .unwrap_or_default();
    print!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Job summary</title>\
         <style>{CSS}</style></head><body><div class=\"frame\">\
         <div class=\"frame-head\">load <span>summary</span></div>\
         <div class=\"markdown-body\">\n{body}</div></div>{mermaid}</body></html>\n"
    );
    Ok(())
}
