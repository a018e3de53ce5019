use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(post = "/pis/v2/connect", form, scope = "PIS")]
    async fn connect(&self, #[query] redirect_uri: &str, #[body] body: &serde_json::Value) -> Result<(), Error>;
}

fn main() {}
