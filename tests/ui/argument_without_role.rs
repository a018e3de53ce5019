use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/payments/{id}")]
    async fn call(&self, id: &str, state: &str) -> Result<(), Error>;
}

fn main() {}
