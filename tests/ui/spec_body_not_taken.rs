use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(post = "/pis/v2/refund", json, scope = "PIS")]
    async fn refund(&self, #[body] body: &serde_json::Value) -> Result<(), Error>;
}

fn main() {}
