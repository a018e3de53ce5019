use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(post = "/oauth/accesstoken", json, auth = none)]
    async fn token(&self, #[body] body: &serde_json::Value) -> Result<(), Error>;
}

fn main() {}
