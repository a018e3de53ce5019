use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(get = "/pis/v2/payments/{id}", scope = "PIS")]
    async fn payment(&self, id: &str) -> Result<(), Error>;
}

fn main() {}
