use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(get = "/res/v1/providers", auth = none)]
    async fn providers(&self) -> Result<(), Error>;
}

fn main() {}
