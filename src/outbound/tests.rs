//! The SSRF guard: URL checks, the resolver, and proxies (environment
//! proxies ignored; an explicit proxy only carries checked targets).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

fn strict() -> Policy {
    Policy::default()
}

/// Names the tests resolve without DNS.
fn table() -> Lookup {
    let names: HashMap<&str, IpAddr> = HashMap::from([
        ("public.test", "93.184.216.34".parse().expect("ip")),
        ("intranet.test", "127.0.0.1".parse().expect("ip")),
        ("lan.test", "10.1.2.3".parse().expect("ip")),
        ("metadata.test", "169.254.169.254".parse().expect("ip")),
    ]);
    Arc::new(move |host: String| {
        let found = names.get(host.as_str()).copied();
        Box::pin(async move {
            found.map(|ip| vec![ip]).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "unknown name"))
        })
    })
}

/// A fake forward proxy on loopback: records each request line and
/// answers as the real target would (a redirect for `/hop`, else 200).
struct FakeProxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl FakeProxy {
    async fn start() -> FakeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0_u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let line = text.lines().next().unwrap_or_default().to_owned();
                    log.lock().expect("log").push(line.clone());
                    let reply = if line.contains("/hop ") {
                        let to = line.split_whitespace().nth(1).unwrap_or_default().replace("/hop", "/landed");
                        let to =
                            if line.contains("to-private") { "http://intranet.test/secret".to_owned() } else { to };
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                    } else {
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nvia proxy"
                            .to_owned()
                    };
                    let _ = socket.write_all(reply.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        FakeProxy { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("log").clone()
    }
}

fn proxied(proxy: &FakeProxy, adjust: impl FnOnce(&mut OutboundConfig)) -> Outbound {
    let mut config = OutboundConfig { proxy: Some(proxy.url.clone()), ..OutboundConfig::default() };
    adjust(&mut config);
    Outbound::build(&config, table()).expect("client")
}

async fn get(outbound: &Outbound, url: &str) -> Result<Fetched, OutboundError> {
    outbound.send_limited(outbound.request(Method::GET, url)?, None).await
}

#[test]
fn urls_are_checked() {
    let guard = |u: &str| check_url(&Url::parse(u).expect("url"), &strict());
    assert!(matches!(guard("ftp://example.com/x"), Err(OutboundError::Scheme)));
    assert!(matches!(guard("file:///etc/passwd"), Err(OutboundError::Scheme)));
    assert!(matches!(guard("http://127.0.0.1:8080/"), Err(OutboundError::Forbidden(_))));
    assert!(matches!(guard("http://[::1]/"), Err(OutboundError::Forbidden(_))));
    assert!(matches!(guard("http://localhost/"), Err(OutboundError::Forbidden(_))));
    assert!(matches!(guard("http://localhost./"), Err(OutboundError::Forbidden(_))));
    assert!(matches!(guard("http://api.LOCALHOST/"), Err(OutboundError::Forbidden(_))));
    assert!(matches!(guard("http://169.254.169.254/latest/meta-data"), Err(OutboundError::Forbidden(_))));
    assert!(matches!(guard("http://10.20.0.1/"), Err(OutboundError::Forbidden(_))));
    assert!(guard("https://example.com/page").is_ok());
    let open = Policy::from_config(&OutboundConfig { allow_private: true, ..OutboundConfig::default() }).expect("p");
    assert!(check_url(&Url::parse("http://127.0.0.1/").expect("url"), &open).is_ok());
    let cidr = Policy::from_config(&OutboundConfig { allow_cidrs: vec!["10.20.0.0/16".into()], ..Default::default() })
        .expect("p");
    assert!(check_url(&Url::parse("http://10.20.0.1/").expect("url"), &cidr).is_ok());
    assert!(matches!(
        check_url(&Url::parse("http://10.21.0.1/").expect("url"), &cidr),
        Err(OutboundError::Forbidden(_))
    ));
}

#[tokio::test]
async fn names_resolving_to_private_addresses_are_refused() {
    let lookup = system_lookup();
    let err = resolve_allowed("localhost", &strict(), &lookup, false).await.expect_err("loopback only");
    assert!(err.downcast_ref::<ForbiddenTarget>().is_some(), "{err}");
    let open = Policy::from_config(&OutboundConfig { allow_private: true, ..OutboundConfig::default() }).expect("p");
    assert!(!resolve_allowed("localhost", &open, &lookup, false).await.expect("allowed").is_empty());
    // Allow-listed names reach private addresses, never loopback or metadata.
    let listed = Policy::from_config(&OutboundConfig {
        allow_hosts: vec!["lan.test".into(), "intranet.test".into(), "metadata.test".into()],
        ..OutboundConfig::default()
    })
    .expect("p");
    let lookup = table();
    assert_eq!(resolve_allowed("lan.test", &listed, &lookup, false).await.expect("listed").len(), 1);
    for local in ["intranet.test", "metadata.test"] {
        let err = resolve_allowed(local, &listed, &lookup, false).await.expect_err("local address");
        assert!(err.downcast_ref::<ForbiddenTarget>().is_some(), "{local}: {err}");
    }
    assert!(resolve_allowed("lan.test", &strict(), &lookup, false).await.is_err());
}

#[tokio::test]
async fn an_explicit_proxy_never_sees_private_targets() {
    let proxy = FakeProxy::start().await;
    let outbound = proxied(&proxy, |_| {});
    for url in
        ["http://intranet.test:8080/", "http://lan.test/admin", "https://metadata.test/latest", "http://nowhere.test/"]
    {
        let err = get(&outbound, url).await.expect_err(url);
        if url.contains("nowhere") {
            assert!(matches!(err, OutboundError::Failed(ref m) if m.contains("cannot resolve")), "{url}: {err}");
        } else {
            assert!(matches!(err, OutboundError::Forbidden(_)), "{url}: {err}");
        }
    }
    assert!(proxy.seen().is_empty(), "the proxy was contacted: {:?}", proxy.seen());
}

#[tokio::test]
async fn an_explicit_proxy_carries_allowed_targets_and_checks_each_redirect() {
    let proxy = FakeProxy::start().await;
    let outbound = proxied(&proxy, |c| c.allow_hosts = vec!["lan.test".into()]);
    let page = get(&outbound, "http://public.test/page").await.expect("through the proxy");
    assert_eq!((page.status.as_u16(), page.body.as_slice()), (200, b"via proxy".as_slice()));
    let lan = get(&outbound, "http://lan.test/status").await.expect("allow-listed host");
    assert_eq!(lan.status.as_u16(), 200);
    // A redirect to an allowed target is followed through the proxy…
    let moved = get(&outbound, "http://public.test/hop").await.expect("redirect followed");
    assert_eq!((moved.status.as_u16(), moved.url.as_str()), (200, "http://public.test/landed"));
    // …one to a private name is refused before the proxy sees it.
    let err = get(&outbound, "http://public.test/to-private/hop").await.expect_err("private redirect");
    assert!(matches!(err, OutboundError::Forbidden(_)), "{err}");
    assert_eq!(
        proxy.seen(),
        [
            "GET http://public.test/page HTTP/1.1",
            "GET http://lan.test/status HTTP/1.1",
            "GET http://public.test/hop HTTP/1.1",
            "GET http://public.test/landed HTTP/1.1",
            "GET http://public.test/to-private/hop HTTP/1.1",
        ]
    );
}

#[tokio::test]
async fn redirects_through_the_proxy_turn_posts_into_gets_and_drop_credentials_across_hosts() {
    let mut request = Client::new()
        .post("http://public.test/form")
        .bearer_auth("secret")
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .build()
        .expect("request");
    let previous = request.url().clone();
    follow(&mut request, StatusCode::FOUND, &previous, Url::parse("http://other.test/next").expect("url"));
    assert_eq!(request.method(), Method::GET);
    assert!(request.body().is_none());
    assert!(request.headers().get(AUTHORIZATION).is_none());
    assert!(request.headers().get(CONTENT_TYPE).is_none());
    let mut put = Client::new().put("http://public.test/a").bearer_auth("k").body("x").build().expect("request");
    let previous = put.url().clone();
    follow(&mut put, StatusCode::TEMPORARY_REDIRECT, &previous, Url::parse("http://public.test/b").expect("url"));
    assert_eq!(put.method(), Method::PUT);
    assert!(put.body().is_some());
    assert!(put.headers().get(AUTHORIZATION).is_some(), "same host keeps credentials");
}

/// Run by `environment_proxies_are_ignored` in a child process whose
/// environment points every proxy variable at a fake proxy.
#[tokio::test]
#[ignore = "run as a child process by environment_proxies_are_ignored"]
async fn environment_proxy_child() {
    let outbound = Outbound::build(&OutboundConfig::default(), table()).expect("client");
    let err = get(&outbound, "http://intranet.test:8080/").await.expect_err("a name resolving to loopback");
    assert!(matches!(err, OutboundError::Forbidden(_)), "{err}");
}

#[tokio::test]
async fn environment_proxies_are_ignored() {
    let proxy = FakeProxy::start().await;
    // Changing this process's environment would race with other test
    // threads, so the check runs in a child with the variables set.
    let exe = std::env::current_exe().expect("test binary");
    let url = proxy.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(exe);
        command.args(["--exact", "outbound::tests::environment_proxy_child", "--ignored", "--test-threads=1"]);
        for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
            command.env(var, &url);
        }
        command.env_remove("NO_PROXY").env_remove("no_proxy").output()
    })
    .await
    .expect("join")
    .expect("run the child");
    let out = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && out.contains("1 passed"), "child failed:\n{out}");
    assert!(proxy.seen().is_empty(), "the environment proxy was contacted: {:?}", proxy.seen());
}
