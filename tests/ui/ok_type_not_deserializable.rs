use fintecture_oauth::{Error, api};

pub struct Payment;

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<Payment, Error>;
}

fn main() {}
