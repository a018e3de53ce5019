use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(post = "/pis/v2/connect", scope = "PIS")]
    async fn connect(&self, #[query] redirect_uri: &str) -> Result<(), Error>;
}

fn main() {}
