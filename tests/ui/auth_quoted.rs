use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a", auth = "bearer")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
