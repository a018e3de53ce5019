use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(get = "/pis/v2/payment/{session_id}", scope = "PIS")]
    async fn payment(&self, session_id: &str) -> Result<(), Error>;
}

fn main() {}
