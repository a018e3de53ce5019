//! Property tests: path-segment, query and form encoding round trips, and the token and
//! error parsers on arbitrary bytes (never a panic).

use bytes::Bytes;
use fintecture_oauth::{AccessToken, ApiError, Environment};
use proptest::prelude::*;
use tests::{Filter, SampleRequests, Sort, Thing, client_for};

fn client() -> fintecture_oauth::Client {
    client_for("https://api.example.test/base")
}

proptest! {
    #[test]
    fn a_path_parameter_is_exactly_one_segment(value in "\\PC*") {
        let request = SampleRequests::delete_thing(&client(), &value);
        if value.is_empty() || value == "." || value == ".." {
            prop_assert!(request.is_err());
        } else {
            let request = request.unwrap();
            let url = url::Url::parse(request.url()).unwrap();
            let segments: Vec<&str> = url.path_segments().unwrap().collect();
            prop_assert_eq!(segments.len(), 3, "{}", url);
            prop_assert_eq!(segments[0], "base");
            prop_assert_eq!(segments[1], "things");
            let decoded = percent_decode(segments[2]);
            prop_assert_eq!(decoded, value);
            prop_assert!(url.query().is_none());
        }
    }

    #[test]
    fn form_bodies_round_trip(name in "\\PC*", count in any::<u32>(), note in proptest::option::of("\\PC*")) {
        let thing = Thing { name, count, note };
        let request = SampleRequests::create_form(&client(), "id", &thing).unwrap();
        let fields: Vec<(String, String)> =
            url::form_urlencoded::parse(request.body().unwrap()).into_owned().collect();
        let mut expected = vec![("name".to_string(), thing.name.clone()), ("count".into(), thing.count.to_string())];
        if let Some(note) = &thing.note {
            expected.push(("note".into(), note.clone()));
        }
        prop_assert_eq!(fields, expected);
    }

    #[test]
    fn query_values_round_trip(state in "\\PC*", page in any::<u32>(), id in "[a-z0-9]{1,8}") {
        let filter = Filter { state: &state, since: None };
        let request = SampleRequests::get_thing(&client(), &id, &filter, page, Sort::Asc, "r").unwrap();
        let url = url::Url::parse(request.url()).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        prop_assert_eq!(pairs, vec![
            ("state".to_string(), state.clone()),
            ("page".into(), page.to_string()),
            ("sort".into(), "asc".into()),
        ]);
    }

    #[test]
    fn the_token_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(error) = AccessToken::from_json(&body) {
            let _ = (error.to_string(), format!("{error:?}"));
        }
    }

    #[test]
    fn the_token_parser_never_panics_on_near_json(
        access in "\\PC*", expires in prop_oneof![Just("1".to_string()), "\\PC*", "-?[0-9]{1,40}(\\.[0-9]+)?(e[0-9]{1,4})?"],
        kind in "\\PC*",
    ) {
        let body = format!(r#"{{"access_token":{access:?},"expires_in":{expires},"token_type":{kind:?}}}"#);
        let _ = AccessToken::from_json(body.as_bytes()).map(|t| t.to_string());
    }

    #[test]
    fn the_error_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512), status in 400u16..600) {
        let error = ApiError::from_response(
            "test",
            http_status(status),
            Default::default(),
            Bytes::from(body),
        );
        let _ = (error.to_string(), format!("{error:?}"), error.code(), error.message());
    }

    #[test]
    fn the_error_parser_never_panics_on_envelopes(
        status in prop_oneof![Just("400".to_string()), "-?[0-9]{1,30}", "\\PC*".prop_map(|s| format!("{s:?}"))],
        entries in proptest::collection::vec(prop_oneof![
            Just("null".to_string()),
            "\\PC*".prop_map(|s| format!("{s:?}")),
            ("\\PC*", "\\PC*").prop_map(|(c, m)| format!(r#"{{"code":{c:?},"detail":{m:?}}}"#)),
            Just("[1,2]".to_string()),
        ], 0..5),
    ) {
        let body = format!(r#"{{"status":{status},"code":"c","log_id":"l","errors":[{}]}}"#, entries.join(","));
        let error = ApiError::from_response("test", http_status(400), Default::default(), Bytes::from(body));
        let _ = error.to_string();
    }
}

fn http_status(code: u16) -> fintecture_oauth::http::StatusCode {
    fintecture_oauth::http::StatusCode::from_u16(code).unwrap()
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[test]
fn environments_are_what_they_say() {
    assert_eq!(
        Environment::Sandbox.base_url(),
        "https://api-sandbox.fintecture.com"
    );
    assert_eq!(
        Environment::Production.base_url(),
        "https://api.fintecture.com"
    );
}
