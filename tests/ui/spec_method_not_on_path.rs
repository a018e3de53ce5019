use fintecture_oauth::{Error, api};

#[api(spec = "spec/shop.yaml")]
pub trait Api {
    #[endpoint(delete = "/pis/v2/payments/{session_id}", scope = "PIS")]
    async fn cancel(&self, session_id: &str) -> Result<(), Error>;
}

fn main() {}
