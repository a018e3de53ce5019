//! The consent leg against the emulator: starting a consent (hosted picker and chosen
//! bank), following the consent URL's redirect, completing it from the redirect's query;
//! a wrong, missing or reused `state` refused before any token request; a code completed
//! under another customer's id refused with that customer's grant untouched; the start
//! endpoints naming the app with `app_id`, signed; errors callers can act on.

use fintecture_emulator::{Emulator, EmulatorConfig, Fault, NextConsent};
use fintecture_oauth::{
    CachedToken, Client, ConsentError, ConsentRequest, ConsentState, Credentials, Environment,
    Error, Scope, SignRequests, api,
};
use tests::{Relay, Sample};

const REDIRECT: &str = "https://merchant.example/consent/callback";

/// The emulator's consent page, visited as a browser does: its redirect's query.
async fn visit(url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::FOUND);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    location.split_once('?').unwrap().1.to_owned()
}

/// A consent through the hosted picker: its kept state and the redirect's query.
async fn consent(client: &Client, request: &ConsentRequest) -> (ConsentState, String) {
    let started = client.start_consent(request).await.unwrap();
    let query = visit(started.url()).await;
    (started.state().clone(), query)
}

fn token_requests(emulator: &Emulator) -> usize {
    emulator.requests_to("/oauth/accesstoken").len()
}

/// The emulator answering `status`, without `Retry-After`.
fn fault(status: u16) -> Fault {
    Fault::Status {
        status,
        retry_after: None,
    }
}

fn consent_error(error: Error) -> ConsentError {
    match error {
        Error::Consent(consent) => consent,
        other => panic!("not a consent error: {other:?}"),
    }
}

#[tokio::test]
async fn both_flows_go_from_the_start_to_the_customers_accounts() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    for request in [
        ConsentRequest::connect(REDIRECT)
            .country("FR")
            .language("fr"),
        ConsentRequest::provider("cmcifrpp", REDIRECT).psu_type("retail"),
    ] {
        let (state, query) = consent(&client, &request).await;
        let customer = client.complete_consent(&state, &query).await.unwrap();
        let id = customer.customer_id().unwrap().to_owned();
        assert!(query.contains(&format!("customer_id={id}")), "{query}");
        customer.customer_accounts(&id).await.unwrap();
    }
    // Each start named the app and sent no token; the chosen bank's asked for a code.
    let connect = &emulator.requests_to("/ais/v2/connect")[0];
    assert_eq!(
        connect.header("app_id"),
        Some(emulator.credentials().app_id())
    );
    assert_eq!(connect.header("authorization"), None);
    assert_eq!(connect.header("x-country"), Some("FR"));
    let chosen = &emulator.requests_to("/ais/v1/provider/cmcifrpp/authorize")[0];
    assert!(
        chosen
            .query
            .as_deref()
            .unwrap()
            .contains("response_type=code")
    );
    assert_eq!(chosen.header("x-psu-type"), Some("retail"));
}

#[tokio::test]
async fn the_redirect_may_be_given_as_its_query_its_path_or_its_whole_url() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    // Read as a query, a whole URL's first field would be `https://…/callback?code`.
    let forms: [fn(&str) -> String; 3] = [
        |query| format!("?{query}"),
        |query| format!("{REDIRECT}?{query}#fragment"),
        |query| format!("/consent/callback?{query}"),
    ];
    for form in forms {
        let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
        let customer = client
            .complete_consent(&state, &form(&query))
            .await
            .unwrap();
        let id = customer.customer_id().unwrap().to_owned();
        assert!(query.contains(&format!("customer_id={id}")), "{query}");
    }
    // A URL without a query carries no state.
    let (state, _) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    let refused = client.complete_consent(&state, REDIRECT).await.unwrap_err();
    assert_eq!(consent_error(refused), ConsentError::MissingState);
}

#[tokio::test]
async fn a_wrong_missing_or_reused_state_is_refused_before_any_token_request() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    let (other, other_query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;

    let without_state: String = query
        .split('&')
        .filter(|pair| !pair.starts_with("state="))
        .collect::<Vec<_>>()
        .join("&");
    let missing = client.complete_consent(&state, &without_state).await;
    assert_eq!(
        consent_error(missing.unwrap_err()),
        ConsentError::MissingState
    );
    let wrong = client.complete_consent(&other, &query).await;
    assert_eq!(consent_error(wrong.unwrap_err()), ConsentError::WrongState);
    let forged = ConsentState::from_kept("a state of the attacker's choosing");
    let forged = client.complete_consent(&forged, &query).await;
    assert_eq!(consent_error(forged.unwrap_err()), ConsentError::WrongState);
    assert_eq!(token_requests(&emulator), 0);

    client.complete_consent(&state, &query).await.unwrap();
    assert_eq!(token_requests(&emulator), 1);
    let reused = client.complete_consent(&state, &query).await;
    assert_eq!(consent_error(reused.unwrap_err()), ConsentError::StateUsed);
    assert_eq!(
        token_requests(&emulator),
        1,
        "no token request for a reused state"
    );
    // The other consent, started meanwhile, is still there to complete: each is kept apart.
    client.complete_consent(&other, &other_query).await.unwrap();
}

#[tokio::test]
async fn a_state_is_used_once_across_clients_sharing_a_store() {
    let emulator = Emulator::start().await.unwrap();
    let store = std::sync::Arc::new(fintecture_oauth::MemoryTokenStore::default());
    let replica = || {
        Client::builder(emulator.environment())
            .credentials(emulator.credentials())
            .token_store(store.clone())
            .build()
            .unwrap()
    };
    let (first, second) = (replica(), replica());
    let (state, query) = consent(&first, &ConsentRequest::connect(REDIRECT)).await;
    // The redirect reaches another replica: it knows the state.
    second.complete_consent(&state, &query).await.unwrap();
    let again = first.complete_consent(&state, &query).await;
    assert_eq!(consent_error(again.unwrap_err()), ConsentError::StateUsed);
    // A client with a store of its own never saw the state.
    let stranger = emulator.client().unwrap();
    let (state, query) = consent(&first, &ConsentRequest::connect(REDIRECT)).await;
    let unknown = stranger.complete_consent(&state, &query).await;
    assert_eq!(consent_error(unknown.unwrap_err()), ConsentError::StateUsed);
}

#[tokio::test]
async fn a_refused_consent_is_a_typed_error_and_asks_for_no_token() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    emulator.next_consent(NextConsent::Refused {
        error: "access_denied".into(),
        description: "The customer cancelled at their bank".into(),
    });
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    let refused = client.complete_consent(&state, &query).await.unwrap_err();
    assert_eq!(
        consent_error(refused),
        ConsentError::Refused {
            error: "access_denied".into(),
            description: Some("The customer cancelled at their bank".into()),
        }
    );
    assert_eq!(token_requests(&emulator), 0);

    // The redirect's text as it comes, a `?` unencoded in a value included: still the
    // refusal it says, not a query cut at that `?`.
    let (state, _) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    let by_hand = format!(
        "error=access_denied&error_description=why?&state={}",
        state.expose_secret()
    );
    let refused = client.complete_consent(&state, &by_hand).await.unwrap_err();
    assert_eq!(
        consent_error(refused),
        ConsentError::Refused {
            error: "access_denied".into(),
            description: Some("why?".into()),
        }
    );
}

#[tokio::test]
async fn a_code_completed_under_another_customers_id_replaces_nothing() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let (bob, bobs_token) = bob_with_a_grant(&emulator, &client).await;

    // Alice consents, then edits her redirect to name bob.
    emulator.next_consent(NextConsent::GrantedAs("alice".into()));
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    let edited = query.replace("customer_id=alice", "customer_id=bob");
    assert_ne!(edited, query);
    let refused = client.complete_consent(&state, &edited).await.unwrap_err();
    refused_for_bob_and_nothing_replaced(&emulator, &client, &bob, &bobs_token, refused).await;
}

#[tokio::test]
async fn a_code_authorized_under_another_customers_id_replaces_nothing() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let (bob, bobs_token) = bob_with_a_grant(&emulator, &client).await;

    // The lower-level exchange, with alice's code, on bob's client.
    let refused = bob
        .authorize(emulator.issue_code("alice"), None)
        .await
        .unwrap_err();
    refused_for_bob_and_nothing_replaced(&emulator, &client, &bob, &bobs_token, refused).await;
}

#[tokio::test]
async fn an_owner_check_that_fails_otherwise_keeps_nothing_and_says_why() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    // A 500 is the service's failure, not a refusal of the token: no WrongCustomer, and
    // nothing kept, since the token could not be checked.
    emulator.next_consent(NextConsent::GrantedAs("carol".into()));
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    emulator.inject("/ais/v1/customer/", fault(500));
    let failed = client.complete_consent(&state, &query).await.unwrap_err();
    assert!(!matches!(failed, Error::Consent(_)), "{failed:?}");
    assert_eq!(failed.status().map(|s| s.as_u16()), Some(500));
    let carol = client.customer("carol");
    assert!(carol.cached_access_token(&Scope::Ais).is_none());
    // A 503 is tried again, and then the check passes.
    emulator.next_consent(NextConsent::GrantedAs("dave".into()));
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    emulator.inject("/ais/v1/customer/", fault(503));
    let dave = client.complete_consent(&state, &query).await.unwrap();
    assert!(dave.cached_access_token(&Scope::Ais).is_some());
    assert_eq!(
        emulator.requests_to("/ais/v1/customer/dave/accounts").len(),
        2
    );
}

#[tokio::test]
async fn a_redirect_can_be_completed_again_when_the_token_endpoint_did_not_use_its_code() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    // A 503: the code was not used, so the state is kept again, and reloading the callback
    // page completes the consent.
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    emulator.inject("/oauth/accesstoken", fault(503));
    let unavailable = client.complete_consent(&state, &query).await.unwrap_err();
    assert_eq!(unavailable.status().map(|s| s.as_u16()), Some(503));
    assert!(unavailable.is_retryable());
    let customer = client.complete_consent(&state, &query).await.unwrap();
    assert!(customer.cached_access_token(&Scope::Ais).is_some());
    // Once done, it is used up for good.
    let again = client.complete_consent(&state, &query).await.unwrap_err();
    assert_eq!(consent_error(again), ConsentError::StateUsed);

    // A 500 may have come after the code was used: the redirect is not completed twice.
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    emulator.inject("/oauth/accesstoken", fault(500));
    client.complete_consent(&state, &query).await.unwrap_err();
    let again = client.complete_consent(&state, &query).await.unwrap_err();
    assert_eq!(consent_error(again), ConsentError::StateUsed);
}

#[tokio::test]
async fn a_redirect_can_be_completed_again_when_the_service_could_not_be_reached() {
    let emulator = Emulator::start().await.unwrap();
    let relay = Relay::start(emulator.url().port().unwrap()).await;
    let through_relay = format!("http://127.0.0.1:{}/", relay.port());
    let client = Client::builder(Environment::Custom(through_relay.parse().unwrap()))
        .credentials(emulator.credentials())
        .build()
        .unwrap();
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    // The service is unreachable when the customer comes back: nothing was sent.
    relay.close().await;
    let unreachable = client.complete_consent(&state, &query).await.unwrap_err();
    assert!(unreachable.is_connect(), "{unreachable:?}");
    // Back again: the same redirect completes.
    let _back = Relay::start_on(relay.port(), emulator.url().port().unwrap()).await;
    let customer = client.complete_consent(&state, &query).await.unwrap();
    assert!(customer.cached_access_token(&Scope::Ais).is_some());
}

/// Bob, having consented and read his accounts; and his token.
async fn bob_with_a_grant(emulator: &Emulator, client: &Client) -> (Client, CachedToken) {
    emulator.next_consent(NextConsent::GrantedAs("bob".into()));
    let (state, query) = consent(client, &ConsentRequest::connect(REDIRECT)).await;
    let bob = client.complete_consent(&state, &query).await.unwrap();
    bob.customer_accounts("bob").await.unwrap();
    let bobs_token = bob.cached_access_token(&Scope::Ais).unwrap();
    (bob, bobs_token)
}

/// `refused` says alice's token is not bob's; bob's next call answers 200 with his own
/// token, and alice's token is kept under no one.
async fn refused_for_bob_and_nothing_replaced(
    emulator: &Emulator,
    client: &Client,
    bob: &Client,
    bobs_token: &CachedToken,
    refused: Error,
) {
    assert_eq!(
        consent_error(refused),
        ConsentError::WrongCustomer {
            customer_id: "bob".into()
        }
    );
    let kept = bob.cached_access_token(&Scope::Ais).unwrap();
    assert_eq!(kept.expose_secret(), bobs_token.expose_secret());
    bob.customer_accounts("bob").await.unwrap();
    let last = emulator.requests_to("/ais/v1/customer/bob/accounts");
    let last = last.last().unwrap();
    assert_eq!(last.status, Some(fintecture_oauth::http::StatusCode::OK));
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {}", bobs_token.expose_secret()).as_str())
    );
    assert!(
        client
            .customer("alice")
            .cached_access_token(&Scope::Ais)
            .is_none()
    );
}

#[tokio::test]
async fn the_start_endpoints_are_signed_and_the_emulator_verifies_them() {
    const PRIVATE: &str = include_str!("../keys/app-test-only.pem");
    const PUBLIC: &str = include_str!("../keys/app-test-only.pub.pem");
    const OTHER: &str = include_str!("../keys/other-test-only.pem");
    let emulator = Emulator::start_with(EmulatorConfig {
        credentials: Credentials::new("app-id-1", "secret"),
        signature_public_key_pem: Some(PUBLIC.into()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let client = |key: &str| {
        Client::builder(emulator.environment())
            .credentials(emulator.credentials())
            .signing_key_pem(key)
            .sign_requests(SignRequests::Always)
            .build()
            .unwrap()
    };
    let signed = client(PRIVATE);
    let (state, query) = consent(&signed, &ConsentRequest::connect(REDIRECT)).await;
    let sent = &emulator.requests_to("/ais/v2/connect")[0];
    let signature = sent.header("signature").unwrap();
    assert!(signature.contains("keyId=\"app-id-1\""), "{signature}");
    assert_eq!(sent.header("app_id"), Some("app-id-1"));
    assert_eq!(sent.header("authorization"), None);
    signed.complete_consent(&state, &query).await.unwrap();
    // Signed with another key: refused by the emulator.
    let wrong = client(OTHER)
        .start_consent(&ConsentRequest::connect(REDIRECT))
        .await;
    let wrong = wrong.unwrap_err();
    assert_eq!(
        wrong.api().unwrap().code(),
        Some("invalid_signature"),
        "{wrong}"
    );
}

/// The PIS connect endpoint, declared as the README's snippet does.
#[api]
trait Pis {
    #[endpoint(post = "/pis/v2/connect", json, scope = "PIS")]
    async fn connect(&self, #[body] body: &serde_json::Value) -> Result<serde_json::Value, Error>;
}

#[tokio::test]
async fn errors_say_their_status_their_code_rejection_and_their_fields() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    // A 503 from the token endpoint, seen through the token error.
    emulator.inject("/oauth/accesstoken", fault(503));
    let unavailable = client.connect(&serde_json::json!({})).await.unwrap_err();
    assert!(
        matches!(unavailable, Error::Token { .. }),
        "{unavailable:?}"
    );
    assert_eq!(unavailable.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(unavailable.api().unwrap().code(), Some("injected_fault"));
    assert!(unavailable.is_retryable());

    // A 400 from connect names each bad field.
    let invalid = client.connect(&serde_json::json!({})).await.unwrap_err();
    let pointers: Vec<_> = invalid
        .api()
        .unwrap()
        .errors()
        .iter()
        .map(|e| e.pointer())
        .collect();
    assert_eq!(pointers, [Some("/data/attributes")]);
    assert!(!invalid.is_retryable());

    // A reused code, told apart by a method.
    let (state, query) = consent(&client, &ConsentRequest::connect(REDIRECT)).await;
    client.complete_consent(&state, &query).await.unwrap();
    let code = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("code="))
        .unwrap();
    let again = client
        .customer("someone")
        .authorize(
            fintecture_oauth::AuthorizationCode::new(code.to_owned()),
            None,
        )
        .await
        .unwrap_err();
    assert!(again.is_code_rejected(), "{again:?}");
    assert!(!again.is_retryable());
    // A start without a redirect URI names the parameter.
    let no_redirect = client
        .start_consent(&ConsentRequest::connect(""))
        .await
        .unwrap_err();
    let parameters: Vec<_> = no_redirect
        .api()
        .unwrap()
        .errors()
        .iter()
        .map(|e| e.parameter())
        .collect();
    assert_eq!(parameters, [Some("redirect_uri")]);
}

#[tokio::test]
async fn a_decoupled_consent_is_polled_until_done_and_its_state_used_once() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let request = ConsentRequest::decoupled("cmcifrpp", REDIRECT, "psu-1", "203.0.113.7");
    let started = client.start_decoupled_consent(&request).await.unwrap();
    let sent = &emulator.requests_to("/ais/v1/provider/cmcifrpp/authorize")[0];
    assert_eq!(sent.header("x-psu-id"), Some("psu-1"));
    // The state is never printed.
    let query = sent.query.as_deref().unwrap();
    let state = query
        .split('&')
        .find_map(|p| p.strip_prefix("state="))
        .unwrap();
    assert!(state.len() >= 43, "256 bits, base64url: {state}");
    let printed = format!("{started:?}");
    assert!(!printed.contains(state), "{printed}");
    assert!(printed.contains("REDACTED"), "{printed}");
    assert!(sent.query.as_deref().unwrap().contains("model=decoupled"));
    let mut polls = 0;
    let customer = loop {
        polls += 1;
        assert!(polls <= 5, "still pending after {polls} polls");
        match client.poll_decoupled_consent(&started).await.unwrap() {
            fintecture_oauth::ConsentProgress::Pending => continue,
            fintecture_oauth::ConsentProgress::Done(customer) => break customer,
            other => panic!("{other:?}"),
        }
    };
    let id = customer.customer_id().unwrap().to_owned();
    customer.customer_accounts(&id).await.unwrap();
    // A start that is not decoupled has no polling id; a refused one is a typed error.
    let redirect_model = client
        .start_decoupled_consent(&ConsentRequest::provider("cmcifrpp", REDIRECT))
        .await
        .unwrap_err();
    assert!(
        matches!(redirect_model, Error::Protocol { .. }),
        "{redirect_model:?}"
    );
    emulator.next_consent(NextConsent::Refused {
        error: "rejected".into(),
        description: String::new(),
    });
    let refused = client.start_decoupled_consent(&request).await.unwrap();
    assert!(matches!(
        client.poll_decoupled_consent(&refused).await.unwrap(),
        fintecture_oauth::ConsentProgress::Pending
    ));
    let error = client.poll_decoupled_consent(&refused).await.unwrap_err();
    assert!(
        matches!(consent_error(error), ConsentError::Refused { ref error, .. } if error == "rejected")
    );
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_state_kept_in_redis_is_used_once_by_whichever_replica_the_redirect_reaches() {
    let redis = tests::RedisServer::start(false);
    let emulator = Emulator::start().await.unwrap();
    let replica = || {
        Client::builder(emulator.environment())
            .credentials(emulator.credentials())
            .token_store(std::sync::Arc::new(tests::redis_store(&redis.url())))
            .build()
            .unwrap()
    };
    let (first, second) = (replica(), replica());
    let (state, query) = consent(&first, &ConsentRequest::connect(REDIRECT)).await;
    // Redis holds the state's digest, never the state.
    let keys = tests::redis_command(&redis.url(), &["KEYS", "*consent*"]).await;
    let keys = format!("{keys:?}");
    assert!(keys.contains("consent"), "{keys}");
    assert!(!keys.contains(state.expose_secret()), "{keys}");
    let customer = second.complete_consent(&state, &query).await.unwrap();
    let id = customer.customer_id().unwrap().to_owned();
    first.customer(&id).customer_accounts(&id).await.unwrap();
    let again = first.complete_consent(&state, &query).await;
    assert_eq!(consent_error(again.unwrap_err()), ConsentError::StateUsed);
    assert_eq!(token_requests(&emulator), 1);
}

#[tokio::test]
async fn a_started_consent_never_prints_its_state() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let started = client
        .start_consent(&ConsentRequest::connect(REDIRECT))
        .await
        .unwrap();
    let printed = format!("{started:?}");
    assert!(
        !printed.contains(started.state().expose_secret()),
        "{printed}"
    );
    assert!(printed.contains("REDACTED"), "{printed}");
    // Nor does the request that started it.
    let sent = emulator.requests_to("/ais/v2/connect");
    let control = reqwest::get(format!("{}__emulator/requests", emulator.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!sent.is_empty());
    assert!(
        !control.contains(started.state().expose_secret()),
        "{control}"
    );
}
