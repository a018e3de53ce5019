use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(get = "/res/v1/providers", auth = none)]
    async fn providers(&self, #[header("x-country")] country: &str, #[header("x-langage")] language: &str) -> Result<(), Error>;
}

fn main() {}
