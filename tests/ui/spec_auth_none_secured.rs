use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(get = "/pis/v2/payments/{session_id}", auth = none)]
    async fn payment(&self, session_id: &str) -> Result<(), Error>;
}

fn main() {}
