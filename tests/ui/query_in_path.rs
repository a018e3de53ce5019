use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a?page=1")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
