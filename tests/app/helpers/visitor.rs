//! Someone using the admin UI from a test: an HTTP client that keeps cookies and does not
//! follow redirects, with the session's CSRF token for forms.

use std::time::Duration;

use reqwest::StatusCode;

pub(super) fn client() -> reqwest::Client {
    client_with(std::sync::Arc::new(reqwest::cookie::Jar::default()))
}

pub(super) fn client_with(jar: std::sync::Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn csrf_token_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// Someone using the admin UI: a cookie jar, and the session's CSRF token for forms.
pub struct Visitor {
    pub(super) app_address: String,
    pub client: reqwest::Client,
    pub csrf: String,
    pub(super) jar: std::sync::Arc<reqwest::cookie::Jar>,
}

impl Visitor {
    /// The same browser after its session changed (signed out, say): the sign-in page's new
    /// CSRF token.
    pub async fn reloaded(self) -> Visitor {
        let html = self.get("/login").await.text().await.unwrap();
        Visitor { csrf: csrf_token_in(&html).expect("login page has a CSRF token"), ..self }
    }

    /// The `Cookie` header this visitor sends to `url`.
    pub fn cookies(&self, url: &reqwest::Url) -> String {
        use reqwest::cookie::CookieStore;
        self.jar.cookies(url).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.app_address)).send().await.unwrap()
    }

    pub async fn get_html(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Uploads `file` (as `file.csv` in the field `file`) with the session's CSRF token, as a
    /// `multipart/form-data` form.
    pub async fn post_file(&self, path: &str, file: Vec<u8>) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(file).file_name("file.csv").mime_str("text/csv").unwrap();
        let form = reqwest::multipart::Form::new().text("csrf_token", self.csrf.clone()).part("file", part);
        self.client.post(format!("{}{path}", self.app_address)).multipart(form).send().await.unwrap()
    }

    /// Posts a form with the session's CSRF token added and a header (an `X-Forwarded-For`, say).
    pub async fn post_form_with(&self, path: &str, header: (&str, &str), fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        all.extend_from_slice(fields);
        self.client
            .post(format!("{}{path}", self.app_address))
            .header(header.0, header.1)
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.app_address)).form(fields).send().await.unwrap()
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}
