use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/customers/{customer-id}")]
    async fn call(&self, #[path("customer_id")] customer: &str) -> Result<(), Error>;
}

fn main() {}
