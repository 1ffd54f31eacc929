//! The console's files served from the binary: the page, its hashed assets, their content
//! types and cache rules, and 404s for anything else.

mod common;

use axum::http::{Method, StatusCode};

use common::test_app;

fn header<'a>(answer: &'a common::Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// The `/assets/…` paths `index.html` refers to.
fn asset_paths(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|part| part.starts_with("/assets/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_page_is_served_without_a_token_and_revalidated_on_every_load() {
    let app = test_app().await;
    let answer = app.call(Method::GET, "/", None, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "text/html; charset=utf-8");
    assert_eq!(header(&answer, "cache-control"), "no-cache");
    assert!(header(&answer, "content-security-policy").contains("default-src 'self'"));
    assert!(answer.text.contains("<div id=\"app\">"), "{}", answer.text);
}

#[tokio::test]
async fn every_asset_the_page_names_is_served_with_its_type_and_cached_for_good() {
    let app = test_app().await;
    let page = app.call(Method::GET, "/", None, None).await;
    let assets = asset_paths(&page.text);
    assert!(
        assets.iter().any(|path| path.ends_with(".js")),
        "no script in {}",
        page.text
    );
    assert!(
        assets.iter().any(|path| path.ends_with(".css")),
        "no style sheet in {}",
        page.text
    );
    for path in assets {
        let answer = app.call(Method::GET, &path, None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(
            header(&answer, "cache-control"),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        let expected = if path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(answer.content_type(), expected, "{path}");
        assert_eq!(header(&answer, "x-content-type-options"), "nosniff");
    }
}

#[tokio::test]
async fn the_basemap_and_the_map_worker_are_embedded() {
    let names: Vec<&str> = deconflict_server::console::CONSOLE_FILES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert!(
        names
            .iter()
            .any(|name| name.starts_with("assets/countries-") && name.ends_with(".json")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|name| name.starts_with("assets/maplibre-gl-worker-")),
        "{names:?}"
    );
    assert_eq!(
        deconflict_server::console::content_type("assets/maplibre-gl-worker-x.mjs"),
        "text/javascript; charset=utf-8"
    );
}

#[tokio::test]
async fn an_unknown_asset_is_a_problem_404() {
    let app = test_app().await;
    for path in [
        "/assets/no-such-file.js",
        "/assets/../index.html",
        "/assets/",
    ] {
        let answer = app.call(Method::GET, path, None, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.content_type(), "application/problem+json", "{path}");
    }
}
